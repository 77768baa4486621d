/*
 * The pacing simulator's plot: one SVG (no dependencies; GitHub renders it in the README), a
 * panel per pair of twin brands, cumulative spend in % of the daily limit over the local day:
 * the paced brand's target curve, the paced brand's actual spend, the accelerated twin's.
 */

/** A curve: [local hour 0-24, % of the daily limit]. */
export type Series = [number, number][];

export interface Panel {
  title: string;
  target: Series;
  paced: Series;
  accelerated: Series;
}

const W = 420;
const H = 260;
const PAD = { left: 44, right: 12, top: 28, bottom: 30 };
const Y_MAX = 110;

function path(s: Series, x0: number, y0: number): string {
  const pw = W - PAD.left - PAD.right;
  const ph = H - PAD.top - PAD.bottom;
  return s
    .map(([h, pct], i) => {
      const x = x0 + PAD.left + (h / 24) * pw;
      const y = y0 + PAD.top + ph - (Math.min(pct, Y_MAX) / Y_MAX) * ph;
      return `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join("");
}

function panel(p: Panel, x0: number, y0: number): string {
  const pw = W - PAD.left - PAD.right;
  const ph = H - PAD.top - PAD.bottom;
  const out: string[] = [];
  out.push(`<text x="${x0 + PAD.left}" y="${y0 + 18}" font-size="13" font-weight="bold">${p.title}</text>`);
  for (const pct of [0, 25, 50, 75, 100]) {
    const y = y0 + PAD.top + ph - (pct / Y_MAX) * ph;
    const color = pct === 100 ? "#c0392b" : "#ddd";
    out.push(`<line x1="${x0 + PAD.left}" x2="${x0 + PAD.left + pw}" y1="${y}" y2="${y}" stroke="${color}"/>`);
    out.push(`<text x="${x0 + PAD.left - 6}" y="${y + 4}" font-size="10" text-anchor="end">${pct}%</text>`);
  }
  for (const h of [0, 6, 12, 18, 24]) {
    const x = x0 + PAD.left + (h / 24) * pw;
    out.push(`<line x1="${x}" x2="${x}" y1="${y0 + PAD.top}" y2="${y0 + PAD.top + ph}" stroke="#eee"/>`);
    out.push(
      `<text x="${x}" y="${y0 + H - 10}" font-size="10" text-anchor="middle">${String(h).padStart(2, "0")}:00</text>`,
    );
  }
  out.push(`<path d="${path(p.target, x0, y0)}" fill="none" stroke="#555" stroke-width="1.5" stroke-dasharray="5,4"/>`);
  out.push(`<path d="${path(p.accelerated, x0, y0)}" fill="none" stroke="#e67e22" stroke-width="2"/>`);
  out.push(`<path d="${path(p.paced, x0, y0)}" fill="none" stroke="#2471a3" stroke-width="2"/>`);
  return out.join("\n");
}

/** The whole figure: panels two per row, a legend on top. */
export function renderSvg(panels: Panel[], caption: string): string {
  const cols = 2;
  const rows = Math.ceil(panels.length / cols);
  const top = 44;
  const width = W * cols;
  const height = top + H * rows;
  const legend = [
    ["#555", "target (paced brand)", "5,4"],
    ["#2471a3", "paced: actual", ""],
    ["#e67e22", "accelerated twin: actual", ""],
  ]
    .map(([color, label, dash], i) => {
      const x = 16 + i * 230;
      return `<line x1="${x}" x2="${x + 28}" y1="30" y2="30" stroke="${color}" stroke-width="2" stroke-dasharray="${dash}"/><text x="${x + 34}" y="34" font-size="12">${label}</text>`;
    })
    .join("\n");
  const body = panels.map((p, i) => panel(p, (i % cols) * W, top + Math.floor(i / cols) * H)).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="16" y="16" font-size="12" fill="#333">${caption}</text>
${legend}
${body}
</svg>
`;
}
