import { PcoccError } from "../../util/index.js";
import type { Block, Page } from "./document.js";

/**
 * The Markdown subset docs/*.md use: a title line `# name(section) -- summary`, `##`/`###` headings,
 * paragraphs, fenced code, `- ` lists and tables. A table becomes a list of terms (its first column) with
 * the other columns as `Header: value` and a last `Meaning` column as the explanation: readable on an
 * 80-column terminal where a four-column table is not.
 */
export function parseMarkdownPage(source: string, file: string): Page {
  const lines = source.split("\n");
  const title = /^# ([a-z][\w.-]*)\(([157])\) -- (.+)$/.exec(lines[0] ?? "");
  if (!title) throw new PcoccError(`${file}:1: expected '# name(section) -- summary', got '${lines[0]}'`);
  return {
    name: title[1]!,
    section: Number(title[2]) as Page["section"],
    summary: title[3]!,
    blocks: parseBlocks(lines.slice(1)),
  };
}

const startsBlock = (line: string) => /^(#{2,3} |```|- |\|)/.test(line) || line.trim() === "";

/** Blocks of a Markdown fragment without a title line (docs/verbs/*.md). */
export function parseBlocks(lines: string[]): Block[] {
  const blocks: Block[] = [];
  let i = 0;
  const take = (pred: (l: string) => boolean): string[] => {
    const out: string[] = [];
    while (i < lines.length && pred(lines[i]!)) out.push(lines[i++]!);
    return out;
  };
  while (i < lines.length) {
    const line = lines[i]!;
    const heading = /^(#{2,3}) (.+)$/.exec(line);
    if (line.trim() === "") i++;
    else if (heading) {
      blocks.push({ kind: "heading", level: heading[1]!.length as 2 | 3, text: heading[2]! });
      i++;
    } else if (line.startsWith("```")) {
      i++;
      blocks.push({ kind: "code", lines: take((l) => !l.startsWith("```")) });
      i++;
    } else if (line.startsWith("- ")) {
      const items: string[] = [];
      for (const l of take((l) => l.startsWith("- ") || /^ {2}\S/.test(l))) {
        if (l.startsWith("- ")) items.push(l.slice(2));
        else items[items.length - 1] += ` ${l.trim()}`;
      }
      blocks.push({ kind: "list", items });
    } else if (line.startsWith("|")) blocks.push(tableAsDefs(take((l) => l.startsWith("|"))));
    else {
      i++;
      blocks.push({ kind: "para", text: [line, ...take((l) => !startsBlock(l))].join(" ") });
    }
  }
  return blocks;
}

function cells(row: string): string[] {
  return row
    .replace(/^\||\|$/g, "")
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

function tableAsDefs(rows: string[]): Block {
  const [header = [], ...body] = rows.filter((r) => !/^\|[-| ]+\|$/.test(r)).map(cells);
  const meaningLast = header[header.length - 1] === "Meaning";
  const middle = header.slice(1, meaningLast ? -1 : undefined);
  return {
    kind: "defs",
    items: body.map((row) => {
      const facts = middle
        .map((h, k) => [h, row[k + 1] ?? ""] as const)
        .filter(([, v]) => v !== "")
        .map(([h, v]) => `${h}: ${v}.`);
      const meaning = meaningLast ? (row[header.length - 1] ?? "") : "";
      return { term: row[0] ?? "", body: [facts.join(" "), meaning].filter((t) => t !== "") };
    }),
  };
}
