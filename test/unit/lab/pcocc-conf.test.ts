import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, resolveTemplate } from "../../../src/config/index.js";
import { renderPcoccConfig } from "../../../src/lab/pcocc-conf.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function writeConf(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "lab-conf-"));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

const guests = {
  cloud: {
    kernel: "/c/vmlinux",
    initrd: "/c/initrd",
    kernelArgs: "console=ttyS0 root=LABEL=rootfs",
    image: "lab-guest",
  },
  tiny: { kernel: "/t/vmlinux", initrd: "/t/initrd", kernelArgs: "console=ttyS0" },
  vslurm: {
    kernel: "/c/vmlinux",
    initrd: "/v/initrd",
    kernelArgs: "console=ttyS0 root=LABEL=rootfs",
    image: "lab-vslurm",
  },
};

const CA = "/lab/etc/etcd-tls/ca.crt";

describe("lab pcocc configuration", () => {
  it("passes the config loader's validation, with the lab templates", async () => {
    const systemDir = writeConf(renderPcoccConfig({ imagesRepo: "/lab/images", guests, etcdCaCert: CA }));
    const userDir = mkdtempSync(join(tmpdir(), "lab-user-"));
    dirs.push(userDir);
    const config = await loadConfig({ systemDir, userDir, cache: false });
    expect(config.batch.settings["etcd-servers"]).toEqual(["10.231.0.1"]);
    expect(config.batch.settings["etcd-auth-type"]).toBe("password");
    // the lab's etcd speaks TLS only, signed by the lab's own CA
    expect(config.batch.settings["etcd-protocol"]).toBe("https");
    expect(config.batch.settings["etcd-ca-cert"]).toBe(CA);
    expect(config.networks["nat-rssh"]?.type).toBe("ethernet");
    expect(Object.keys(config.resourceSets).sort()).toEqual(["cluster", "default", "seed-cluster"]);
    expect(config.unsupported.networks).toEqual({});
    expect(config.networks["seed-nat-rssh"]?.type).toBe("nat");
    expect(config.networks["seed-pv"]?.type).toBe("pv");
    expect(config.repos.map((r) => r.name)).toContain("global");

    const lab = resolveTemplate(config, "lab");
    expect(JSON.stringify(lab)).toContain("lab-guest");
    expect(JSON.stringify(lab)).toContain("/c/vmlinux");
    const tiny = resolveTemplate(config, "lab-tiny");
    expect(JSON.stringify(tiny)).toContain("/t/initrd");
    const seed = resolveTemplate(config, "lab-seed");
    expect(seed.settings["resource-set"]).toBe("seed-cluster");
    expect(JSON.stringify(seed)).toContain("/t/initrd");
    // the vslurm recipe: its templates, their user-data in the checkout's recipes/, their gates
    const head = resolveTemplate(config, "vslurm-head");
    expect(head.recipe).toBe("vslurm");
    expect(head.settings.image).toBe("lab-vslurm");
    expect(head.settings["user-data"]).toMatch(/\/recipes\/vslurm\/user-data\.yaml$/);
    expect(head.settings.readiness).toEqual(["tcp:6817", "exec:/usr/local/sbin/pcocc-vslurm-ready"]);
    expect(resolveTemplate(config, "vslurm-node").settings.readiness).toEqual(["tcp:6818"]);
  });

  it("is valid before the guests exist (no templates yet)", async () => {
    const systemDir = writeConf(
      renderPcoccConfig({ imagesRepo: "/lab/images", guests: null, etcdCaCert: CA }),
    );
    const config = await loadConfig({ systemDir, user: false });
    expect(config.templates.lab).toBeUndefined();
  });

  it("uses the netdev datapath and keeps the two networks' MACs apart", () => {
    const files = renderPcoccConfig({ imagesRepo: "/lab/images", guests: null, etcdCaCert: CA });
    expect(files["networks.yaml"]).toMatch(/datapath-type: netdev[\s\S]*datapath-type: netdev/);
    expect(files["networks.yaml"]).toContain("mac-prefix: 52:54:01");
    expect(files["networks.yaml"]).toContain("network-layer: L2");
  });
});
