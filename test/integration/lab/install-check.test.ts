import { chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeExec, userExec, type LabInfo } from "../../../src/lab/index.js";
import { useLab } from "../../support/lab.js";

let lab: LabInfo;
let broken: string;
beforeAll(async () => {
  lab = await useLab({ images: false });
  // a copy of the lab's system configuration to break, readable by the lab user and the nodes
  broken = mkdtempSync(join(tmpdir(), "pcocc-install-check-"));
  chmodSync(broken, 0o755);
  cpSync(lab.pcoccConfDir, broken, { recursive: true });
});
afterAll(() => rmSync(broken, { recursive: true, force: true }));

describe("pcocc config check --install / --node", () => {
  it("passes on the lab: etcd answers over TLS; on a node, QEMU, dnsmasq, OVS and nftables work", async () => {
    const user = await userExec(lab, ["pcocc", "config", "check", "--install"]);
    expect(user.stderr).toBe("");
    expect(user.stdout).toMatch(/^installation OK \(etcd: \d+ server\(s\) answer over TLS\)$/m);
    expect(user.code).toBe(0);
    // root on a node reads the lab's system configuration (the plugin passes it to setup the same way)
    const node = await nodeExec(lab.nodes[0]!, ["pcocc", "config", "check", "--system", "--node"], {
      env: { PCOCC_SYSTEM_CONF_DIR: lab.pcoccConfDir },
    });
    expect(node.stdout).toMatch(
      /installation OK \(.*node: QEMU, qemu-img, dnsmasq, Open vSwitch and nftables usable\)/,
    );
    expect(node.code).toBe(0);
  });

  it("names the etcd server whose certificate the configured CA does not sign", async () => {
    // the public CAs, not the lab's own
    const batch = join(broken, "batch.yaml");
    const text = (await import("node:fs")).readFileSync(batch, "utf8");
    writeFileSync(
      batch,
      text.replace(/etcd-ca-cert: .*/, "etcd-ca-cert: /etc/ssl/certs/ca-certificates.crt"),
    );
    const r = await userExec(lab, ["pcocc", "config", "check", "--install"], {
      env: { PCOCC_SYSTEM_CONF_DIR: broken },
    });
    expect(r.code).toBe(255);
    const host = new URL(lab.etcd.endpoints[0]!).hostname;
    expect(r.stdout).toMatch(
      new RegExp(`^installation: etcd ${host.replace(/\./g, "\\.")}:\\d+: .*certificate`, "m"),
    );
    expect(r.stderr).toMatch(/^pcocc: \d+ installation problem\(s\) found\n$/);
    writeFileSync(batch, text);
  });

  it("as root: refuses an etcd-password others can read, and a template's QEMU that is not there", async () => {
    chmodSync(join(broken, "etcd-password"), 0o644);
    appendFileSync(join(broken, "templates.yaml"), "\nqemu-missing:\n  qemu-bin: /nonexistent/qemu\n");
    const r = await nodeExec(lab.nodes[0]!, ["pcocc", "config", "check", "--system", "--node"], {
      env: { PCOCC_SYSTEM_CONF_DIR: broken },
    });
    expect(r.code).toBe(255);
    expect(r.stdout).toContain(`installation: ${join(broken, "etcd-password")} is accessible by other users`);
    expect(r.stdout).toContain("installation: /nonexistent/qemu: not executable");
  });
});
