import type { Command } from "commander";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { programPage, verbPage } from "./command-page.js";
import type { Page } from "./document.js";
import { parseBlocks, parseMarkdownPage } from "./markdown.js";

/** docs/ of this package: from src/cli/manual or dist/cli/manual alike. */
export const DOCS_DIR = join(import.meta.dirname, "..", "..", "..", "docs");

function verbExtra(name: string) {
  const file = join(DOCS_DIR, "verbs", `${name}.md`);
  return existsSync(file) ? parseBlocks(readFileSync(file, "utf8").split("\n")) : [];
}

/** Every page: pcocc(1), one per visible verb, and the hand-written docs/*.md (sections 5 and 7). */
export function allPages(program: Command): Page[] {
  const verbs = program.createHelp().visibleCommands(program);
  const docs = readdirSync(DOCS_DIR)
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => parseMarkdownPage(readFileSync(join(DOCS_DIR, f), "utf8"), join(DOCS_DIR, f)));
  return [
    programPage(program, verbExtra("pcocc")),
    ...verbs.map((v) => verbPage(v, verbExtra(v.name()))),
    ...docs,
  ];
}

/** What `pcocc help` calls a page: `alloc` for pcocc-alloc, `templates.yaml`, `getting-started`. */
export function topicOf(page: Page): string {
  return page.name === "pcocc" ? "pcocc" : page.name.replace(/^pcocc-/, "");
}

/** The page for `pcocc help WORDS...`: a topic, a page name, or a verb followed by its sub-verbs. */
export function findPage(pages: Page[], words: string[]): Page | undefined {
  const first = (words[0] ?? "").replace(/\(\d\)$/, "");
  return pages.find((p) => topicOf(p) === first || p.name === first);
}
