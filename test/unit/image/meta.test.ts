import { describe, expect, it } from "vitest";
import { parseMeta, parseMetaFileName, serializeMeta, type ImageMeta } from "../../../src/image/meta.js";

const h = (c: string): string => c.repeat(64);
const meta: ImageMeta = {
  name: "centos",
  revision: 2,
  kind: "vm",
  owner: "alice",
  timestamp: 1700000000.5,
  data_blobs: [h("a"), h("b")],
  custom_meta: {},
};

describe("meta files", () => {
  it("round-trips", () => {
    expect(parseMeta(serializeMeta(meta), "/r/meta/centos@2")).toEqual(meta);
  });

  it("accepts pcocc's files without custom_meta", () => {
    const { custom_meta: _c, ...rest } = meta;
    expect(parseMeta(JSON.stringify(rest), "/r/meta/centos@2").custom_meta).toEqual({});
  });

  it.each<[string, unknown, RegExp]>([
    ["not JSON", "{", /not JSON/],
    ["an array", [], /not a JSON object/],
    ["no name", { ...meta, name: 3 }, /'name' must be a string/],
    ["negative revision", { ...meta, revision: -1 }, /'revision'/],
    ["no blobs", { ...meta, data_blobs: [] }, /non-empty/],
    ["a path as blob", { ...meta, data_blobs: ["../../etc/passwd"] }, /invalid blob hash/],
    ["upper-case hash", { ...meta, data_blobs: [h("A")] }, /invalid blob hash/],
    ["bad custom_meta", { ...meta, custom_meta: [] }, /custom_meta/],
    ["a name that disagrees with the file", { ...meta, name: "other" }, /content says other@2/],
  ])("rejects %s, naming the file", (_what, content, message) => {
    const text = typeof content === "string" ? content : JSON.stringify(content);
    expect(() => parseMeta(text, "/r/meta/centos@2")).toThrow(message);
    expect(() => parseMeta(text, "/r/meta/centos@2")).toThrow(/\/r\/meta\/centos@2/);
  });

  it("parses meta file names and ignores anything else", () => {
    expect(parseMetaFileName("centos@12")).toEqual({ name: "centos", revision: 12 });
    for (const f of ["centos", "centos@", "centos@x", "a@01", "..@1", ".tmp-x", "a b@1"]) {
      expect(parseMetaFileName(f)).toBeUndefined();
    }
  });
});
