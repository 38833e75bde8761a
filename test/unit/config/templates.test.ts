import { describe, expect, it } from "vitest";
import {
  addImageTemplates,
  loadConfig,
  resolveTemplate,
  DEFAULT_KERNEL_ARGS,
} from "../../../src/config/index.js";
import { PcoccError } from "../../../src/util/errors.js";
import { expectOneIssue, issuesOf, load, makeConfigDirs } from "./fixture.js";

const SYSTEM_TEMPLATES = `base:
  description: the base
  image: global:debian
  resource-set: cluster
  kernel: /boot/vmlinuz
  mount-points:
    home: /home
  persistent-drives:
    - /data/a.qcow2
    - /data/b.raw: {mmp: cluster}
`;

describe("templates: loading", () => {
  it("merges system templates.yaml, user templates.yaml and templates.d/*.yaml with their scope", async () => {
    const config = await load(
      { "templates.yaml": SYSTEM_TEMPLATES },
      { "templates.yaml": "mine:\n  inherits: base\n", "templates.d/more.yaml": "more:\n  image: user:x\n" },
    );
    expect(
      Object.values(config.templates).map((t) => [t.name, t.scope, t.file.split("/").slice(-2).join("/")]),
    ).toEqual([
      ["base", "system", "etc/templates.yaml"],
      ["mine", "user", "user/templates.yaml"],
      ["more", "user", "templates.d/more.yaml"],
    ]);
  });
  it("does not read user files with user: false", async () => {
    const dirs = makeConfigDirs({}, { "templates.yaml": "mine: {}\n", "repos.yaml": "oops" });
    const config = await loadConfig({ ...dirs, user: false });
    expect(config.templates).toEqual({});
  });
  it("rejects a name already used in another file", () =>
    expectOneIssue(
      { system: { "templates.yaml": SYSTEM_TEMPLATES }, user: { "templates.d/x.yaml": "a: {}\nbase: {}\n" } },
      {
        file: "user:templates.d/x.yaml",
        line: 2,
        keyPath: "base",
        message: "template name 'base' is already in use (defined in ",
      },
    ));
  it("rejects names starting with _", () =>
    expectOneIssue(
      { user: { "templates.yaml": "_mine: {}\n" } },
      {
        file: "user:templates.yaml",
        line: 1,
        keyPath: "_mine",
        message: "template name '_mine' is restricted (starts with _)",
      },
    ));
  it("rejects names unusable in a cluster definition", () =>
    expectOneIssue(
      { user: { "templates.yaml": "'a,b': {}\n" } },
      { file: "user:templates.yaml", line: 1, keyPath: "a,b", message: "invalid template name 'a,b'" },
    ));
  it("rejects unknown settings (pcocc only did so for some)", () =>
    expectOneIssue(
      { user: { "templates.yaml": "a:\n  image: x\n  hugepages: 2\n" } },
      { file: "user:templates.yaml", line: 3, keyPath: "a.hugepages", message: "unknown key" },
    ));
  it("rejects wrongly typed settings", async () => {
    const issues = await issuesOf(
      {},
      {
        "templates.yaml":
          "a:\n  emulator-cores: -1\n  bind-vcpus: 'yes'\n  disk-model: sata\n  custom-args: -m 2G\n" +
          "  mount-points:\n    home: {path: /h, type: nfs}\n  accelerator: hvf\n",
      },
    );
    expect(issues.map((i) => [i.line, i.keyPath, i.message])).toEqual([
      [2, "a.emulator-cores", "must be greater than or equal to 0 (got -1)"],
      [3, "a.bind-vcpus", "expected boolean, got string 'yes'"],
      [4, "a.disk-model", '"sata" is not one of virtio, virtio-scsi, ide'],
      [5, "a.custom-args", "expected array, got string '-m 2G'"],
      [7, "a.mount-points.home.type", '"nfs" is not one of virtio-9p, virtio-fs'],
      [8, "a.accelerator", '"hvf" is not one of auto, kvm, tcg'],
    ]);
  });
  it("rejects missing parents", () =>
    expectOneIssue(
      { user: { "templates.yaml": "a:\n  inherits: nope\n" } },
      {
        file: "user:templates.yaml",
        line: 2,
        keyPath: "a.inherits",
        message: "template 'a' inherits from invalid template 'nope'",
      },
    ));
  it("rejects inheritance loops, on every template of the loop", async () => {
    const issues = await issuesOf(
      {},
      { "templates.yaml": "a:\n  inherits: b\nb:\n  inherits: c\nc:\n  inherits: a\n" },
    );
    expect(issues.map((i) => [i.line, i.keyPath, i.message])).toEqual([
      [2, "a.inherits", "inheritance loop: a -> b -> c -> a"],
      [4, "b.inherits", "inheritance loop: b -> c -> a -> b"],
      [6, "c.inherits", "inheritance loop: c -> a -> b -> c"],
    ]);
  });
  it("rejects unknown resource sets", () =>
    expectOneIssue(
      { user: { "templates.yaml": "a:\n  resource-set: gpu\n" } },
      {
        file: "user:templates.yaml",
        line: 2,
        keyPath: "a.resource-set",
        message: "unknown resource set 'gpu'",
      },
    ));
  it("requires a resource set when there is no default one", () =>
    expectOneIssue(
      {
        system: { "resources.yaml": "cluster:\n  networks: [nat-rssh]\n" },
        user: { "templates.yaml": "a:\n  image: x\n" },
      },
      {
        file: "user:templates.yaml",
        line: 1,
        keyPath: "a",
        message: "template 'a' has no 'resource-set' setting",
      },
    ));
});

describe("templates: resolution", () => {
  it("applies inherits, keeps description per template, and says where each value comes from", async () => {
    const config = await load(
      { "templates.yaml": SYSTEM_TEMPLATES },
      {
        "templates.yaml":
          "mid:\n  inherits: base\n  machine-type: q35\nleaf:\n  inherits: mid\n  description: leaf\n  kernel: null\n",
      },
    );
    const leaf = resolveTemplate(config, "leaf");
    expect(leaf.description).toBe("leaf");
    expect(leaf.inherits).toBe("mid");
    expect(leaf.settings.image).toBe("global:debian");
    expect(leaf.settings["machine-type"]).toBe("q35");
    expect(leaf.settings["resource-set"]).toBe("cluster");
    // explicit null: back to the default, even though base sets it
    expect(leaf.settings.kernel).toBeNull();
    expect(leaf.settings["kernel-args"]).toBe(DEFAULT_KERNEL_ARGS);
    expect(leaf.settings["qemu-bin"]).toBe("qemu-system-x86_64");
    expect(leaf.settings.accelerator).toBe("auto");
    expect(leaf.origins).toEqual({
      image: "base",
      "resource-set": "base",
      "machine-type": "mid",
      "mount-points": "base",
      "persistent-drives": "base",
    });
    expect(leaf.settings["mount-points"]).toEqual({
      home: { path: "/home", readonly: false, type: "virtio-9p" },
    });
    expect(leaf.settings["persistent-drives"]).toEqual([
      { path: "/data/a.qcow2", mmp: "yes", cache: "writeback", backup: null },
      { path: "/data/b.raw", mmp: "cluster", cache: "writeback", backup: null },
    ]);
    const mid = resolveTemplate(config, "mid");
    expect(mid.description).toBe("");
    expect(mid.settings.kernel).toBe("/boot/vmlinuz");
  });
  it("uses the default resource set when none is given, and image: false means no image", async () => {
    const config = await load({}, { "templates.yaml": "a:\n  image: false\n" });
    const a = resolveTemplate(config, "a");
    expect(a.settings["resource-set"]).toBe("default");
    expect(a.settings.image).toBeNull();
    expect(a.origins).toEqual({});
  });
  it("keeps an explicit false (bind-vcpus: false) as a value, also over an inherited true", async () => {
    const config = await load(
      {},
      {
        "templates.yaml":
          "p:\n  bind-vcpus: true\n  full-node: true\nc:\n  inherits: p\n  bind-vcpus: false\n  full-node: false\n",
      },
    );
    const c = resolveTemplate(config, "c");
    expect(c.settings["bind-vcpus"]).toBe(false);
    expect(c.settings["full-node"]).toBe(false);
    expect(c.origins).toEqual({ "bind-vcpus": "c", "full-node": "c" });
  });
  it("says Template not found for unknown names", async () => {
    const config = await load();
    expect(() => resolveTemplate(config, "nope")).toThrow(new PcoccError("Template not found: nope"));
  });
  it("registers image templates through the hook, never over existing templates", async () => {
    const config = await load({}, { "templates.yaml": "debian:\n  image: user:other\n" });
    addImageTemplates(config, [
      { repo: "user", name: "alpine" },
      { repo: "global", name: "alpine" },
      { repo: "global", name: "debian" },
    ]);
    expect(config.templates.alpine).toEqual({
      name: "alpine",
      scope: "image",
      file: "user",
      settings: { image: "user:alpine" },
    });
    expect(config.templates.debian?.scope).toBe("user");
    expect(resolveTemplate(config, "alpine").settings["resource-set"]).toBe("default");
  });
});
