import type { IPermission } from "etcd3";
import { PcoccError } from "../util/index.js";
import type { Keystore } from "./client.js";
import { isValidCredential } from "./credentials.js";
import { checkUserName, userReadableRanges, userWritablePrefixes } from "./layout.js";

export const roleName = (user: string): string => `${user}-pcocc`;

async function wantedPermissions(user: string): Promise<IPermission[]> {
  const { Range } = await import("etcd3");
  const perm = (permType: IPermission["permType"], start: string, end?: string): IPermission => {
    const r = end === undefined ? Range.prefix(start) : new Range(start, end);
    return { permType, key: r.start, range_end: r.end };
  };
  return [
    ...userReadableRanges().map((r) => perm("Read", r.start, r.end)),
    ...userWritablePrefixes(user).map((p) => perm("Readwrite", p)),
  ];
}

const samePerm = (a: IPermission, b: IPermission): boolean =>
  a.permType === b.permType &&
  Buffer.compare(a.key, b.key) === 0 &&
  Buffer.compare(a.range_end, b.range_end) === 0;

/**
 * Root setup: makes etcd user `<user>` with role `<user>-pcocc` (read the job trees and the public tree,
 * read-write the user's own trees; see userReadableRanges for the one deviation from pcocc) and password
 * `password`, the one the user's CLI generated and SPANK handed over. Idempotent and write-free when
 * everything is already in place, so the user's running clients keep their tokens.
 */
export async function ensureUserRole(ks: Keystore, user: string, password: string): Promise<void> {
  checkUserName(user);
  if (user === "root") throw new PcoccError("refusing to manage the etcd root user as a pcocc user");
  if (!isValidCredential(password)) throw new PcoccError(`invalid keystore credential requested for ${user}`);
  const auth = ks.etcd.auth;
  const role = roleName(user);
  const wanted = await wantedPermissions(user);

  const current = await ks
    .call(`get role ${role}`, () => auth.roleGet({ role }))
    .then((r) => r.perm)
    .catch(async (err) => {
      if (!/role name not found/.test(String((err as Error).message))) throw err;
      await ks.call(`add role ${role}`, () => auth.roleAdd({ name: role }));
      return [] as IPermission[];
    });
  for (const perm of wanted) {
    if (!current.some((c) => samePerm(c, perm))) {
      await ks.call(`grant ${role}`, () => auth.roleGrantPermission({ name: role, perm }));
    }
  }

  const roles = await ks
    .call(`get user ${user}`, () => auth.userGet({ name: user }))
    .then((r) => r.roles)
    .catch(async (err) => {
      if (!/user name not found/.test(String((err as Error).message))) throw err;
      await ks.call(`add user ${user}`, () =>
        auth.userAdd({ name: user, password, options: { no_password: false } }),
      );
      return null;
    });
  if (!roles?.includes(role)) {
    await ks.call(`grant ${role} to ${user}`, () => auth.userGrantRole({ user, role }));
  }
  if (roles !== null && !(await passwordMatches(ks, user, password))) {
    await ks.call(`set password of ${user}`, () => auth.userChangePassword({ name: user, password }));
  }
}

async function passwordMatches(ks: Keystore, name: string, password: string): Promise<boolean> {
  try {
    await ks.etcd.auth.authenticate({ name, password });
    return true;
  } catch {
    return false;
  }
}
