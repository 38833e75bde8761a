import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { log, PcoccError } from "../util/index.js";

const CRED_RE = /^[0-9a-f]{32}$/;

/** A user's keystore password as pcocc generates it: 16 random bytes in hex. */
export function isValidCredential(value: string): boolean {
  return CRED_RE.test(value);
}

function userPasswordFile(userDir: string): string {
  return join(userDir, ".etcd-password");
}

/**
 * Root's etcd password. A secret readable by others is refused outright (anyone could become etcd root);
 * group access only gets a warning, as in pcocc.
 */
export async function readRootPassword(systemDir: string): Promise<string> {
  const file = join(systemDir, "etcd-password");
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (err) {
    throw new PcoccError(`cannot read the keystore root password ${file}: ${(err as Error).message}`);
  }
  if (mode & 0o007) throw new PcoccError(`${file} is accessible by other users: chmod 600 it`);
  if (mode & 0o070) (await log()).warn(`${file} is accessible by its group; chmod 600 is recommended`);
  const password = (await readFile(file, "utf8")).trim();
  if (!password) throw new PcoccError(`${file} is empty`);
  return password;
}

async function readUserPasswordFile(file: string): Promise<string> {
  const value = (await readFile(file, "utf8")).trim();
  if (!isValidCredential(value)) {
    throw new PcoccError(`password file ${file} is invalid, please delete it so that a new one is generated`);
  }
  return value;
}

/** The user's keystore password; a missing file means pcocc was never used to allocate a cluster. */
export async function readUserPassword(userDir: string): Promise<string> {
  const file = userPasswordFile(userDir);
  try {
    return await readUserPasswordFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new PcoccError(
        `no keystore password in ${file}: it is created by your first pcocc alloc or batch`,
      );
    }
    throw err;
  }
}

/**
 * Returns the user's keystore password, creating `<userDir>/.etcd-password` (0400) on first use. The file
 * is written aside and hard-linked into place so concurrent first uses agree on one complete password.
 */
export async function ensureUserPassword(userDir: string): Promise<string> {
  const file = userPasswordFile(userDir);
  try {
    return await readUserPasswordFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await mkdir(userDir, { recursive: true, mode: 0o700 });
  const password = randomBytes(16).toString("hex");
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(temp, `${password}\n`, { mode: 0o400, flag: "wx" });
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readUserPasswordFile(file);
    throw new PcoccError(`cannot create ${file}: ${(err as Error).message}`);
  } finally {
    await rm(temp, { force: true });
  }
  return password;
}
