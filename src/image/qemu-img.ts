import { execFile } from "node:child_process";
import { PcoccError } from "../util/index.js";

/** Options of a long qemu-img run: it stops on `signal`; `onProgress` gets its `-p` fraction (0–1). */
export interface QemuImgRun {
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

/**
 * qemu-img does the real work on image contents; each call here moves or checks data, never a tiny step.
 * With `onProgress`, `-p` is added after the sub-command and its `(NN.NN/100%)` lines are read as they come.
 */
export function qemuImg(args: string[], run: QemuImgRun = {}): Promise<string> {
  const argv = run.onProgress ? [args[0]!, "-p", ...args.slice(1)] : args;
  return new Promise((resolve, reject) => {
    const child = execFile(
      "qemu-img",
      argv,
      { maxBuffer: 64 * 1024 * 1024, signal: run.signal },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        if (run.signal?.aborted) return reject(run.signal.reason);
        const e = err as NodeJS.ErrnoException;
        if (e.code === "ENOENT") {
          return reject(new PcoccError("qemu-img not found: install qemu-utils", { cause: err }));
        }
        const detail = (stderr || e.message).trim().replace(/^qemu-img: /gm, "");
        reject(new PcoccError(`qemu-img ${args[0]} failed: ${detail}`, { cause: err }));
      },
    );
    const onProgress = run.onProgress;
    if (onProgress)
      child.stdout?.on("data", (chunk: Buffer) => {
        for (const m of chunk.toString().matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g))
          onProgress(Number(m[1]) / 100);
      });
  });
}

/**
 * Creates a qcow2 file; with `backing`, a copy-on-write layer over that qcow2. `unsafe` (with a size) does
 * not open the backing file, for a backing file another process (a running QEMU) holds.
 */
export async function createQcow2(
  path: string,
  opts: { backing?: string; size?: number; unsafe?: boolean } = {},
): Promise<void> {
  const args = ["create", "-q", "-f", "qcow2"];
  if (opts.backing !== undefined) {
    if (opts.unsafe) args.push("-u");
    args.push("-F", "qcow2", "-b", opts.backing);
  }
  args.push(path);
  if (opts.size !== undefined) args.push(String(opts.size));
  await qemuImg(args);
}

export interface QemuImgInfo {
  format: string;
  "virtual-size": number;
  "backing-filename"?: string;
  "format-specific"?: { data?: { "data-file"?: string } };
}

/** `forceShare`: read an image a running QEMU holds (qemu-img -U). */
export async function imageInfo(
  path: string,
  format?: string,
  opts: { forceShare?: boolean } = {},
): Promise<QemuImgInfo> {
  const args = ["info", "--output=json"];
  if (format) args.push("-f", format);
  if (opts.forceShare) args.push("-U");
  return JSON.parse(await qemuImg([...args, path])) as QemuImgInfo;
}
