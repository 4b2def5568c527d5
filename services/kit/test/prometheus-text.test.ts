import { describe, expect, it } from "vitest";
import { parsePrometheusText, sampleValue } from "./prometheus-text";

describe("parsePrometheusText (the test parser itself)", () => {
    const text = [
        "# HELP h latency",
        "# TYPE h histogram",
        'h_bucket{le="0.1",route="/a"} 1',
        'h_bucket{le="+Inf",route="/a"} 3',
        'h_sum{route="/a"} 0.5',
        'h_count{route="/a"} 3',
        "# TYPE g gauge",
        "g Nan",
        "# TYPE c counter",
        'c{path="C:\\\\dir",msg="say \\"hi\\""} 7 1395066363000',
        "",
    ].join("\n");

    it("reads labelled histogram and counter samples", () => {
        const parsed = parsePrometheusText(text);
        expect(parsed.types.get("h")).toBe("histogram");
        expect(sampleValue(parsed, "h_bucket", { route: "/a", le: "+Inf" })).toBe(3);
        expect(sampleValue(parsed, "h_count", { route: "/a" })).toBe(3);
        expect(sampleValue(parsed, "g", {})).toBeNaN();
        expect(parsed.samples.at(-1)).toEqual({ name: "c", labels: { path: "C:\\dir", msg: 'say "hi"' }, value: 7 });
    });

    it.each([
        ["an undeclared family", "x 1"],
        ["a bad value", "# TYPE x gauge\nx one"],
        ["an unterminated label", '# TYPE x gauge\nx{a="1} 1'],
        ["an unknown type", "# TYPE x thing"],
        ["a stray line", "# TYPE x gauge\nx 1\nnot a sample line at all"],
    ])("rejects %s", (_what, bad) => {
        expect(() => parsePrometheusText(bad)).toThrow();
    });
});
