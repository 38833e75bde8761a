import { spans, type Block, type Page } from "./document.js";

const WIDTH = 80;

function plain(text: string): string {
  return spans(text)
    .map((s) => s.text)
    .join("");
}

function wrap(text: string, indent: number): string[] {
  const out: string[] = [];
  let current = "";
  for (const word of plain(text).split(/\s+/).filter(Boolean)) {
    if (current !== "" && indent + current.length + 1 + word.length > WIDTH) {
      out.push(" ".repeat(indent) + current);
      current = word;
    } else current = current === "" ? word : `${current} ${word}`;
  }
  if (current !== "") out.push(" ".repeat(indent) + current);
  return out;
}

function block(b: Block): string[] {
  switch (b.kind) {
    case "heading":
      return b.level === 2 ? ["", b.text.toUpperCase()] : ["", `   ${b.text}`];
    case "para":
      return ["", ...wrap(b.text, 7)];
    case "code":
      return ["", ...b.lines.map((l) => `         ${l}`.trimEnd())];
    case "lines":
      return ["", ...b.lines.flatMap((l) => wrap(l, 7))];
    case "list":
      return [
        "",
        ...b.items.flatMap((item) => wrap(item, 9).map((l, k) => (k === 0 ? `       - ${l.slice(9)}` : l))),
      ];
    case "defs":
      return b.items.flatMap(({ term, body }) => ["", ...wrap(term, 7), ...body.flatMap((p) => wrap(p, 14))]);
  }
}

/** The page as man would show it without formatting, for terminals on nodes without man. */
export function renderText(page: Page): string {
  const title = `${page.name.toUpperCase()}(${page.section})`;
  const out = [
    title,
    "",
    "NAME",
    ...wrap(`${page.name} - ${page.summary}`, 7),
    ...page.blocks.flatMap(block),
  ];
  return `${out.join("\n")}\n`;
}
