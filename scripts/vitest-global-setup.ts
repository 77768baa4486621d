import { dropStaleTestDatabases } from "@adbudget/testing";

/** Drops test databases an earlier, crashed run left behind (older than an hour). */
export default async function setup(): Promise<void> {
  const dropped = await dropStaleTestDatabases();
  if (dropped > 0) console.log(`dropped ${dropped} stale test database(s)`);
}
