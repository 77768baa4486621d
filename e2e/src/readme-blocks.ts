/**
 * The shell blocks of the README that a test runs as written: a fenced `sh` block right after a
 * `<!-- readme-test: <name> -->` comment (invisible on GitHub). Reading them from the README,
 * rather than keeping a copy in a script, means the text a newcomer pastes is the text tested.
 */
const MARKED_BLOCK = /<!-- readme-test: ([\w-]+) -->\n```sh\n([\s\S]*?)\n```/g;

/** Every marked block by name; a name marked twice is an error (which one would be tested?). */
export function readmeBlocks(markdown: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const [, name = "", body = ""] of markdown.matchAll(MARKED_BLOCK)) {
    if (blocks.has(name)) throw new Error(`the README marks two blocks "readme-test: ${name}"`);
    blocks.set(name, body);
  }
  return blocks;
}

/** The block `name`, or an error saying the README lost its marker. */
export function readmeBlock(blocks: Map<string, string>, name: string): string {
  const block = blocks.get(name);
  if (block === undefined)
    throw new Error(`the README has no block marked "<!-- readme-test: ${name} -->" followed by a \`\`\`sh fence`);
  return block;
}

/**
 * The block with the README's default addresses (127.0.0.1:50051 ... 50053, as `npm start`
 * serves) replaced by a test system's: the commands stay the README's, only where they call moves.
 */
export function retarget(block: string, addresses: { brand: string; budget: string; campaign: string }): string {
  return block
    .replaceAll("127.0.0.1:50051", addresses.brand)
    .replaceAll("127.0.0.1:50052", addresses.budget)
    .replaceAll("127.0.0.1:50053", addresses.campaign);
}
