import { describe, expect, it } from "vitest";
import { formatImageUri, parseImageUri } from "../../../src/image/uri.js";
import { parseSize } from "../../../src/image/revision.js";

describe("parseImageUri", () => {
  it("parses every combination of repo and revision", () => {
    expect(parseImageUri("centos")).toEqual({ name: "centos" });
    expect(parseImageUri("global:centos")).toEqual({ repo: "global", name: "centos" });
    expect(parseImageUri("centos@3")).toEqual({ name: "centos", revision: 3 });
    expect(parseImageUri("user:my_img-1.2@0")).toEqual({ repo: "user", name: "my_img-1.2", revision: 0 });
  });

  it("round-trips through formatImageUri", () => {
    for (const s of ["a", "r:a", "a@1", "r:a@12"]) expect(formatImageUri(parseImageUri(s))).toBe(s);
  });

  it.each([
    ["", /Empty image URI/],
    ["user:", /Empty image name/],
    ["@3", /Empty image name/],
    ["a b", /Invalid image name 'a b'/],
    ["../x", /Invalid image name/],
    ["..", /Invalid image name/],
    ["x/y", /Invalid image name/],
    ["a@", /Bad revision ''/],
    ["a@-1", /Bad revision '-1'/],
    ["a@01", /Bad revision '01'/],
    ["a@1.5", /Bad revision '1.5'/],
    ["a@1@2", /Bad revision '1@2'/],
    ["a@99999999999999999999", /Bad revision/],
    ["bad repo:a", /Invalid repository name/],
    [":a", /Empty repository name/],
  ])("rejects %j", (text, message) => {
    expect(() => parseImageUri(text)).toThrow(message);
  });
});

describe("parseSize", () => {
  it("reads qemu-img style sizes in binary units", () => {
    expect(parseSize("20G")).toBe(20 * 2 ** 30);
    expect(parseSize("512M")).toBe(512 * 2 ** 20);
    expect(parseSize("1.5k")).toBe(1536);
    expect(parseSize("1GiB")).toBe(2 ** 30);
    expect(parseSize("1000")).toBe(1024);
  });
  it.each(["", "G", "-1G", "+1G", "1X", "0", "abc"])("rejects %j", (s) => {
    expect(() => parseSize(s)).toThrow(/Invalid size/);
  });
});
