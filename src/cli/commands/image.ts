import type { Command } from "commander";
import { IMAGE_URI } from "../completion.js";

async function context() {
  const [{ loadConfig }, image] = await Promise.all([
    import("../../config/index.js"),
    import("../../image/index.js"),
  ]);
  return { config: await loadConfig(), image };
}

const out = (text: string): boolean => process.stdout.write(text);
const json = (value: unknown): boolean => out(`${JSON.stringify(value, null, 2)}\n`);

export function register(program: Command): void {
  const image = program.command("image").description("manage VM images in repositories");
  registerInspect(image);
  registerTransfers(image);
  registerChanges(image);
  registerRepo(image.command("repo").description("manage image repositories"));
}

/** list, show */
function registerInspect(image: Command): void {
  image
    .command("list")
    .description("list images (latest revision of each), optionally those whose name matches REGEX")
    .argument("[regex]", "regular expression searched in image names")
    .option("-R, --repo <repo>", "only this repository")
    .option("--json", "print JSON instead of tables")
    .action(async (pattern: string | undefined, opts: { repo?: string; json?: boolean }) => {
      const { config, image } = await context();
      const repos = await image.listImages(config, { pattern, repo: opts.repo });
      if (opts.json) json(repos);
      else out(image.formatImageList(repos));
    });
  image
    .command("show")
    .description("show an image and its revisions")
    .argument("<image>", IMAGE_URI)
    .option("--json", "print JSON instead of a table")
    .action(async (uri: string, opts: { json?: boolean }) => {
      const { config, image } = await context();
      const info = await image.showImage(config, uri);
      if (opts.json) json(info);
      else out(image.formatImageShow(info));
    });
}

/**
 * Status on stderr once data starts to move (so an error found before says only what is wrong), and a
 * progress line while `work` runs; Ctrl-C stops it cleanly.
 */
async function transfer<T>(
  what: string,
  work: (run: { signal: AbortSignal; onProgress: (done: number, total: number) => void }) => Promise<T>,
): Promise<T> {
  const [{ progressLine }, { interruptible }] = await Promise.all([
    import("../../util/index.js"),
    import("../interrupt.js"),
  ]);
  const bar = progressLine(what, { bytes: true });
  let started = false;
  const onProgress = (done: number, total: number): void => {
    if (!started) process.stderr.write(`${what} image ...\n`);
    started = true;
    bar.update(done, total);
  };
  try {
    const result = await interruptible(`${what} image`, (signal) => work({ signal, onProgress }));
    bar.end();
    return result;
  } catch (err) {
    bar.abandon();
    throw err;
  }
}

/** import, export, copy */
function registerTransfers(image: Command): void {
  image
    .command("import")
    .description("import a disk image file (raw, qcow2 or any format qemu-img reads) as a new image")
    .argument("<src>", "image file")
    .argument("<dst>", "[REPO:]NAME")
    .option("-t, --fmt <fmt>", "source format (default: detected)")
    .action(async (src: string, dst: string, opts: { fmt?: string }) => {
      const { config, image } = await context();
      const r = await transfer("Importing", (run) =>
        image.importImage(config, src, dst, { format: opts.fmt, ...run }),
      );
      if (r.alsoIn.length > 0) {
        process.stderr.write(
          `Warning: an image with the same name also exists in repo ${r.alsoIn.join(", ")}\n`,
        );
      }
      out(`Image imported as ${r.uri} (from ${r.format})\n`);
    });
  image
    .command("export")
    .description("export an image (all layers flattened) to a file")
    .argument("<src>", IMAGE_URI)
    .argument("<dst>", "[FMT:]destination file (must not exist)")
    .option("-t, --fmt <fmt>", "output format (default: FMT: prefix, else the file's suffix, else raw)")
    .action(async (src: string, dst: string, opts: { fmt?: string }) => {
      const { config, image } = await context();
      const r = await transfer("Exporting", (run) =>
        image.exportImage(config, src, dst, { format: opts.fmt, ...run }),
      );
      out(`Image ${r.repo}:${r.name}@${r.revision} exported to ${r.exported.path} (${r.exported.format})\n`);
    });
  image
    .command("copy")
    .description("copy an image (one revision, layers shared when possible) to a new name or repository")
    .argument("<src>", IMAGE_URI)
    .argument("<dst>", "[REPO:]NAME")
    .action(async (src: string, dst: string) => {
      const { config, image } = await context();
      const uri = await transfer("Copying", (run) => image.copyImage(config, src, dst, run));
      out(`Image successfully copied to ${uri}\n`);
    });
}

/** delete, resize */
function registerChanges(image: Command): void {
  image
    .command("delete")
    .description("delete one revision (NAME@REV) or every revision of an image; space is freed by `repo gc`")
    .argument("<image>", IMAGE_URI)
    .action(async (uri: string) => {
      const { config, image } = await context();
      const r = await image.deleteImage(config, uri);
      const name = image.parseImageUri(uri).name;
      out(
        `Deleted ${name} revision${r.revisions.length > 1 ? "s" : ""} ${r.revisions.join(", ")} from repo ${r.repo}\n`,
      );
    });
  image
    .command("resize")
    .description("add a revision with a larger virtual disk size")
    .argument("<image>", IMAGE_URI)
    .argument("<size>", "new size, e.g. 20G")
    .action(async (uri: string, size: string) => {
      const { config, image } = await context();
      out(`Image resized: new revision ${(await image.resizeImage(config, uri, size)).uri}\n`);
    });
}

/** repo list, repo gc */
function registerRepo(repo: Command): void {
  repo
    .command("list")
    .description("list configured repositories")
    .option("--json", "print JSON instead of a table")
    .action(async (opts: { json?: boolean }) => {
      const { config, image } = await context();
      const repos = await image.repoList(config);
      if (opts.json) json(repos);
      else out(image.formatRepoList(repos));
    });
  repo
    .command("gc")
    .description("delete layers no image references and leftovers of interrupted imports or saves")
    .argument("<repo>", "repository name")
    .action(async (name: string) => {
      const { config, image } = await context();
      out(image.formatGc(await image.repoGc(config, name)));
    });
}
