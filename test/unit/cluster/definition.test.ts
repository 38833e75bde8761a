import { beforeAll, describe, expect, it } from "vitest";
import {
  parseClusterDefinition,
  parseResourceDefinition,
  MAX_CLUSTER_VMS,
} from "../../../src/cluster/index.js";
import { addImageTemplates, type PcoccConfig } from "../../../src/config/index.js";
import { load } from "../config/fixture.js";

let config: PcoccConfig;

beforeAll(async () => {
  config = await load(
    {},
    { "templates.yaml": "tplA:\n  image: user:a\ntplB:\n  image: user:b\n  resource-set: cluster\n" },
  );
  addImageTemplates(config, [{ repo: "global", name: "centos" }]);
});

describe("parseClusterDefinition", () => {
  it("gives one VM for a bare template", () => {
    expect(parseClusterDefinition("tplA", config)).toEqual({
      vms: [{ rank: 0, name: "vm0", template: "tplA", resourceSet: "default" }],
      resourceDefinition: "default:1",
    });
  });
  it("numbers VMs in definition order", () => {
    const def = parseClusterDefinition("tplA:2,tplB:3", config);
    expect(def.vms.map((v) => `${v.name}=${v.template}/${v.resourceSet}`)).toEqual([
      "vm0=tplA/default",
      "vm1=tplA/default",
      "vm2=tplB/cluster",
      "vm3=tplB/cluster",
      "vm4=tplB/cluster",
    ]);
    expect(def.resourceDefinition).toBe("default:2,cluster:3");
  });
  it("keeps one resource group per item, as pcocc sends it", () => {
    expect(parseClusterDefinition("tplA:2,tplA:3", config).resourceDefinition).toBe("default:2,default:3");
  });
  it("accepts image templates by name and repository-qualified", () => {
    expect(parseClusterDefinition("centos:2", config).vms).toHaveLength(2);
    expect(parseClusterDefinition("global:centos", config).vms.map((v) => v.template)).toEqual(["centos"]);
    expect(parseClusterDefinition("global:centos:2", config).vms).toHaveLength(2);
  });
  it.each([
    ["", "Unable to parse cluster definition: '': it is empty"],
    ["tplA:2,", "Unable to parse cluster definition: 'tplA:2,': empty item (stray comma?)"],
    [",tplA", "empty item (stray comma?)"],
    ["tplA,,tplB", "empty item (stray comma?)"],
    [" tplA : 2", "Unable to parse cluster definition: ' tplA : 2': it contains whitespace"],
    ["tplA:0", "invalid VM count '0' for template 'tplA' (expected a whole number of at least 1)"],
    ["tplA:-1", "invalid VM count '-1' for template 'tplA'"],
    ["tplA:1.5", "invalid VM count '1.5' for template 'tplA'"],
    ["tplA:x", "invalid VM count 'x' for template 'tplA'"],
    ["tplA:", "invalid VM count '' for template 'tplA'"],
    [":2", "missing template name in ':2'"],
    ["nosuch:2", "Unable to parse cluster definition: 'nosuch:2': unknown template 'nosuch'"],
    ["user:img", "invalid VM count 'img' for template 'user'"],
    [`tplA:${MAX_CLUSTER_VMS + 1}`, `more than ${MAX_CLUSTER_VMS} VMs`],
  ])("rejects %j", (def, message) => {
    expect(() => parseClusterDefinition(def, config)).toThrow(message);
  });
});

describe("parseResourceDefinition", () => {
  it("parses what parseClusterDefinition produces", () => {
    expect(parseResourceDefinition("default:2,cluster:3,default:1")).toEqual([
      { resourceSet: "default", count: 2 },
      { resourceSet: "cluster", count: 3 },
      { resourceSet: "default", count: 1 },
    ]);
    expect(parseResourceDefinition("a_b-c:1")).toEqual([{ resourceSet: "a_b-c", count: 1 }]);
  });
  it.each([
    ["", "it is empty"],
    ["default", "bad item 'default' (expected RSET:COUNT)"],
    ["default:0", "bad item"],
    ["default:01", "bad item"],
    ["default:-1", "bad item"],
    ["default:1000000", "bad item"],
    ["default:1,", "bad item ''"],
    ["default: 1", "bad item"],
    ["1default:1", "bad item"],
    ["de$(id):1", "bad item"],
    ["default:1\n", "bad item"],
    ["default:1;rm -rf /", "bad item"],
    [Array(20).fill("default:999999").join(","), `more than ${MAX_CLUSTER_VMS} VMs`],
    ["a:1,".repeat(2000) + "a:1", "longer than 4096 characters"],
  ])("rejects %j", (s, message) => {
    expect(() => parseResourceDefinition(s)).toThrow(message);
  });
  it("escapes and truncates what it echoes back", () => {
    const hostile = "\u001b[31m" + "x".repeat(200);
    let message = "";
    try {
      parseResourceDefinition(hostile);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toContain("\u001b");
    expect(message).toContain("\\u001b[31m");
    expect(message.length).toBeLessThan(250);
  });
});
