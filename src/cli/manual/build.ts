import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildProgram } from "../program.js";
import { allPages } from "./pages.js";
import { renderRoff } from "./roff.js";

/** `npm run build:man`: every page as roff in OUT/man<section>/<name>.<section>; returns the files. */
export async function writeManPages(out: string): Promise<string[]> {
  const program = await buildProgram([]);
  const version = program.version() ?? "";
  rmSync(out, { recursive: true, force: true });
  const files: string[] = [];
  for (const page of allPages(program)) {
    const dir = join(out, `man${page.section}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${page.name}.${page.section}`);
    writeFileSync(file, renderRoff(page, version));
    files.push(file);
  }
  return files;
}
