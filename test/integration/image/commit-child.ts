// Runs one commit in its own process so the test can SIGKILL it at an arbitrary point. Mode "orphan" stops
// itself at the narrowest window of all: layer stored in data/, meta file not yet written.
import { copyFile } from "node:fs/promises";
import { addRevision } from "../../../src/image/index.js";
import { Repository } from "../../../src/image/repository.js";

const [mode, configJson, uri, layer] = process.argv.slice(2);
const config = JSON.parse(configJson!) as { repos: Array<{ name: string; path: string }> };
process.stdout.write("ready\n");
if (mode === "orphan") {
  const repo = new Repository(config.repos[0]!.name, config.repos[0]!.path);
  const staging = await repo.createStaging();
  await copyFile(layer!, staging.file("layer"));
  process.stdout.write(`stored ${await repo.commitBlob(staging.file("layer"))}\n`);
  process.kill(process.pid, "SIGKILL");
}
const rev = await addRevision(config, uri!, layer!);
process.stdout.write(`done ${rev.revision}\n`);
