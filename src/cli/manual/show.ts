import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PcoccError } from "../../util/index.js";
import { buildProgram } from "../program.js";
import type { Page } from "./document.js";
import { allPages, findPage, topicOf } from "./pages.js";
import { renderText } from "./text.js";

/** The page built with this pcocc (dist/man), so a checkout never shows an installed older one. */
const BUILT_MAN = join(import.meta.dirname, "..", "..", "man");

function hasMan(): boolean {
  return spawnSync("man", ["--version"], { stdio: "ignore" }).status === 0;
}

/** man's exit status once it showed `page`, or undefined when man or the page is missing. */
function viaMan(page: Page): number | undefined {
  if (!hasMan()) return undefined;
  const built = join(BUILT_MAN, `man${page.section}`, `${page.name}.${page.section}`);
  const args = existsSync(built)
    ? ["-l", built]
    : spawnSync("man", ["-w", String(page.section), page.name], { stdio: "ignore" }).status === 0
      ? [String(page.section), page.name]
      : undefined;
  return args && (spawnSync("man", args, { stdio: "inherit" }).status ?? 255);
}

function topicList(pages: Page[]): string {
  const group = (section: number) =>
    pages
      .filter((p) => p.section === section)
      .map((p) => `  ${topicOf(p).padEnd(18)}${p.summary}`)
      .join("\n");
  return `Usage: pcocc help TOPIC (the manual page, through man when it is installed)

Commands:
${group(1)}

Configuration files:
${group(5)}

Guides:
${group(7)}
`;
}

/** `pcocc help [TOPIC...]`: the topic's manual page, or the list of topics. */
export async function showHelp(words: string[]): Promise<number> {
  const pages = allPages(await buildProgram([]));
  if (words.length === 0) {
    process.stdout.write(topicList(pages));
    return 0;
  }
  const page = findPage(pages, words);
  if (!page)
    throw new PcoccError(`no help topic '${words.join(" ")}' (pcocc help lists them)`, { exitCode: 2 });
  const status = viaMan(page);
  if (status !== undefined) return status;
  process.stdout.write(renderText(page));
  return 0;
}
