import { spans, type Block, type Page } from "./document.js";

/** Characters roff would read as requests or escapes; `-` as `\-` so options copy-paste as typed. */
function escape(text: string): string {
  return text.replace(/\\/g, "\\e").replace(/-/g, "\\-").replace(/'/g, "\\(aq");
}

/** A line roff must not take for a request: it may not start with `.` or `'`. */
function line(text: string): string {
  return /^[.']/.test(text) ? `\\&${text}` : text;
}

function inline(text: string): string {
  return spans(text)
    .map(({ style, text: t }) => {
      const e = escape(t);
      if (style === "code" || style === "bold") return `\\fB${e}\\fR`;
      return style === "italic" ? `\\fI${e}\\fR` : e;
    })
    .join("");
}

function block(b: Block): string[] {
  switch (b.kind) {
    case "heading":
      return [b.level === 2 ? `.SH "${b.text.toUpperCase()}"` : `.SS "${b.text}"`];
    case "para":
      return [".PP", line(inline(b.text))];
    case "code":
      return [".PP", ".RS 4", ".nf", ...b.lines.map((l) => line(escape(l))), ".fi", ".RE"];
    case "lines":
      return [".PP", ...b.lines.flatMap((l, k) => (k === 0 ? [line(inline(l))] : [".br", line(inline(l))]))];
    case "list":
      return b.items.flatMap((item) => [".IP \\(bu 2", line(inline(item))]);
    case "defs":
      return b.items.flatMap(({ term, body }) => [
        ".TP",
        line(inline(term)),
        ...body.flatMap((p, k) => (k === 0 ? [line(inline(p))] : [".IP", line(inline(p))])),
      ]);
  }
}

/** The page as man(7) source, with its title, e.g. `pcocc-alloc(1)`. */
export function renderRoff(page: Page, version: string): string {
  const out = [
    `.TH "${page.name.toUpperCase()}" "${page.section}" "" "pcocc ${version}" "pcocc manual"`,
    // ragged right, no hyphenation: option names and paths are typed back as they are shown
    ".nr HY 0",
    ".ds AD l",
    ".ad l",
    ".nh",
    ".SH NAME",
    `${escape(page.name)} \\- ${inline(page.summary)}`,
    ...page.blocks.flatMap(block),
  ];
  return `${out.join("\n")}\n`;
}
