import { constants } from "node:fs";
import { chmod, mkdir, open, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { PcoccError } from "../util/index.js";
import { runOps } from "./native.js";
import { jobDir, type JobRecord } from "./plan.js";

export const DEFAULT_RUN_DIR = "/run/pcocc";
const RECORD = "record.json";
const LOCK = "net-setup.lock";

/**
 * Written before anything is made, so a crash mid-way still leaves a complete list to remove. Nobody but
 * root lists the job's directory (0711: dnsmasq's account may only reach the files made for it).
 */
export async function writeRecord(rec: JobRecord): Promise<void> {
  await mkdir(rec.dir, { recursive: true, mode: 0o711 });
  await chmod(rec.dir, 0o711);
  const tmp = `${rec.dir}/.${RECORD}.tmp`;
  await writeFile(tmp, JSON.stringify(rec), { mode: 0o600 });
  await rename(tmp, `${rec.dir}/${RECORD}`);
}

export async function readRecord(runDir: string, jobId: number): Promise<JobRecord | undefined> {
  try {
    return parseRecord(await readFile(`${jobDir(runDir, jobId)}/${RECORD}`, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function parseRecord(text: string): JobRecord {
  const r = JSON.parse(text) as JobRecord;
  const strings = (a: unknown): boolean => Array.isArray(a) && a.every((x) => typeof x === "string");
  if (
    !Number.isSafeInteger(r.jobId) ||
    !Number.isSafeInteger(r.linkGroup ?? 0) ||
    !strings(r.links) ||
    !strings(r.netns) ||
    !strings(r.bridges) ||
    !strings(r.nftTables) ||
    !strings(r.pidFiles) ||
    !strings(r.keys)
  )
    throw new PcoccError(`corrupt network setup record for job ${String(r.jobId)}`);
  return r;
}

export async function listRecords(runDir: string): Promise<JobRecord[]> {
  let names: string[];
  try {
    names = await readdir(runDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const out: JobRecord[] = [];
  for (const n of names) {
    const m = /^job-([0-9]+)$/.exec(n);
    if (!m) continue;
    const r = await readRecord(runDir, Number(m[1]));
    if (r) out.push(r);
  }
  return out;
}

export async function removeJobDir(rec: JobRecord): Promise<void> {
  await rm(rec.dir, { recursive: true, force: true });
}

/**
 * Node-wide lock for setup: name and port choices read the records of other jobs. An flock on a root-only
 * file that stays in place: the kernel releases it when its holder exits, however it exits, so there is
 * never a stale lock to take over (taking over by pid let two setups in at once).
 */
export async function withNodeLock<T>(runDir: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  await mkdir(runDir, { recursive: true, mode: 0o755 });
  const path = `${runDir}/${LOCK}`;
  const fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    const deadline = Date.now() + timeoutMs;
    while ((await runOps([{ op: "flockTry", fd: fh.fd }]))[0] !== "1") {
      if (Date.now() > deadline) throw new PcoccError(`timed out waiting for the network setup lock ${path}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return await fn();
  } finally {
    await fh.close();
  }
}
