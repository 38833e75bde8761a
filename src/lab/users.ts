import { readFileSync } from "node:fs";
import { LAB_USERS } from "./layout.js";
import { runOk } from "./procs.js";
import type { LabUser } from "./types.js";

function lookup(name: string): LabUser | null {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f.length >= 7) {
      return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? `/home/${name}` };
    }
  }
  return null;
}

/** The lab's unprivileged users (jobs run as them, like users of a real cluster); created once. */
export async function ensureLabUsers(): Promise<[LabUser, LabUser]> {
  const users: LabUser[] = [];
  for (const name of LAB_USERS) {
    let user = lookup(name);
    if (!user) {
      await runOk(["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name]);
      user = lookup(name);
      if (!user) throw new Error(`useradd ${name} left no passwd entry`);
    }
    users.push(user);
  }
  return [users[0]!, users[1]!];
}
