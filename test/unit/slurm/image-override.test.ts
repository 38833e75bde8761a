import { describe, expect, it } from "vitest";
import { parseImageOverrides } from "../../../src/slurm/image-override.js";

describe("parseImageOverrides", () => {
  it("applies a bare image to the only template and TPL=IMAGE to the named one", () => {
    expect([...parseImageOverrides(["user:mine"], ["tiny", "tiny"])]).toEqual([["tiny", "user:mine"]]);
    expect([...parseImageOverrides(["a=global:x@2", "b= user:y "], ["a", "b", "b"])]).toEqual([
      ["a", "global:x@2"],
      ["b", "user:y"],
    ]);
    expect(parseImageOverrides([], ["a", "b"]).size).toBe(0);
  });

  it("refuses what pcocc refuses, and a template named twice", () => {
    expect(() => parseImageOverrides(["img"], ["a", "b"])).toThrow(
      "--image img is ambiguous for a multi-template cluster; qualify it as --image TPL=IMAGE",
    );
    expect(() => parseImageOverrides(["c=img"], ["a", "b"])).toThrow(
      "--image template 'c' is not part of the cluster definition",
    );
    expect(() => parseImageOverrides(["a="], ["a"])).toThrow("invalid --image spec 'a=': empty image");
    expect(() => parseImageOverrides([""], ["a"])).toThrow("invalid --image spec '': empty image");
    expect(() => parseImageOverrides(["a b=img"], ["a"])).toThrow("bad template name 'a b'");
    expect(() => parseImageOverrides(["a=x", "a=y"], ["a"])).toThrow("--image given twice for template 'a'");
  });
});
