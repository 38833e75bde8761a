// `npm run build:man`: the man pages from the built CLI's definitions and docs/*.md, into dist/man/.
import { join } from "node:path";
import process from "node:process";
import { writeManPages } from "../dist/cli/manual/build.js";

const files = await writeManPages(join(import.meta.dirname, "..", "dist", "man"));
process.stdout.write(`${files.length} man pages in dist/man\n`);
