import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOps } from "../../../src/net/native.js";

/** A private ovsdb-server + ovs-vswitchd (userspace datapath) in a network namespace of its own. */
export interface OvsInstance {
  dir: string;
  sock: string;
  netns: string;
  stop(): Promise<void>;
}

export async function startOvs(tag: string): Promise<OvsInstance> {
  const dir = mkdtempSync(join(tmpdir(), `pcocc-ovs-${tag}-`));
  const netns = `pcocctest-ovs-${tag}-${process.pid}`;
  const sock = join(dir, "db.sock");
  await runOps([{ op: "netnsAdd", name: netns }]);
  await runOps([{ op: "linkSet", name: "lo", up: true }], netns);
  const inNs = (argv: string[]): void => {
    execFileSync("ip", ["netns", "exec", netns, ...argv], { stdio: "ignore" });
  };
  execFileSync("ovsdb-tool", ["create", join(dir, "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema"]);
  inNs([
    "ovsdb-server",
    join(dir, "conf.db"),
    `--remote=punix:${sock}`,
    `--pidfile=${dir}/ovsdb.pid`,
    `--unixctl=${dir}/ovsdb.ctl`,
    "--detach",
    `--log-file=${dir}/ovsdb.log`,
  ]);
  inNs(["ovs-vsctl", `--db=unix:${sock}`, "--no-wait", "init"]);
  inNs([
    "ovs-vswitchd",
    `unix:${sock}`,
    `--pidfile=${dir}/vswitchd.pid`,
    `--unixctl=${dir}/vswitchd.ctl`,
    "--detach",
    `--log-file=${dir}/vswitchd.log`,
  ]);
  return {
    dir,
    sock,
    netns,
    async stop() {
      for (const f of ["vswitchd.pid", "ovsdb.pid"]) {
        try {
          process.kill(Number(readFileSync(join(dir, f), "utf8").trim()), "SIGTERM");
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 200));
      await runOps([{ op: "netnsDel", name: netns, ifExists: true }]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
