import { describe, expect, it } from "vitest";
import { JsonValueSplitter } from "../../../src/vm/json-stream.js";

describe("JsonValueSplitter", () => {
  it("splits values that arrive without newlines and across chunk boundaries", () => {
    const s = new JsonValueSplitter();
    expect(s.push('{"QMP": {"version": {}}}{"ret')).toEqual(['{"QMP": {"version": {}}}']);
    expect(s.push('urn": {}, "id": "1"}')).toEqual(['{"return": {}, "id": "1"}']);
  });

  it("is not fooled by braces and escaped quotes inside strings", () => {
    const s = new JsonValueSplitter();
    const v = '{"return": "a } \\" { ]", "id": "2"}';
    expect(s.push(`${v}\r\n${v}`)).toEqual([v, v]);
    expect(JSON.parse(v).return).toBe('a } " { ]');
  });

  it("keeps an unfinished value until it completes, one byte at a time", () => {
    const s = new JsonValueSplitter();
    const text = '{"event": "STOP", "data": {"x": [1, {"y": "}"}]}}';
    const out: string[] = [];
    for (const c of text) out.push(...s.push(c));
    expect(out).toEqual([text]);
  });

  it("rejects garbage between values", () => {
    expect(() => new JsonValueSplitter().push("{} x")).toThrow(SyntaxError);
  });
});
