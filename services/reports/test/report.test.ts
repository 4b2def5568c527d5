import { describe, expect, it } from "vitest";
import { HISTOGRAM_BUCKETS, buildReport, parseReportId, reportId } from "../src/report";

describe("buildReport", () => {
    it("is deterministic for a size and seed, and differs across seeds", () => {
        expect(buildReport(5000, 42)).toEqual(buildReport(5000, 42));
        expect(buildReport(5000, 43).stats).not.toEqual(buildReport(5000, 42).stats);
    });

    it("summarises every sample with ordered, plausible statistics", () => {
        const { id, size, seed, stats, histogram } = buildReport(200_000, 7);
        expect({ id, size, seed }).toEqual({ id: "200000-7", size: 200_000, seed: 7 });
        expect(histogram).toHaveLength(HISTOGRAM_BUCKETS);
        expect(histogram.reduce((a, b) => a + b, 0)).toBe(200_000);
        expect(stats.min).toBeGreaterThan(0);
        expect(stats.min).toBeLessThanOrEqual(stats.p50);
        expect(stats.p50).toBeLessThanOrEqual(stats.p90);
        expect(stats.p90).toBeLessThanOrEqual(stats.p99);
        expect(stats.p99).toBeLessThanOrEqual(stats.max);
        // log-normal(3, 0.5): median e^3 = 20.09, mean e^3.125 = 22.76, p90 e^(3 + 0.5 * 1.2816) = 38.1
        expect(stats.p50).toBeCloseTo(20.09, 0);
        expect(stats.mean).toBeCloseTo(22.76, 0);
        expect(stats.p90).toBeCloseTo(38.1, 0);
    });

    it("handles a single sample", () => {
        const { stats, histogram } = buildReport(1, 1);
        expect(stats.min).toBe(stats.max);
        expect(stats.stddev).toBe(0);
        expect(histogram[0]).toBe(1);
    });
});

describe("report ids", () => {
    it("round-trip", () => {
        expect(parseReportId(reportId(1_000_000, 4_294_967_295))).toEqual({ size: 1_000_000, seed: 4_294_967_295 });
    });

    it.each(["", "10", "0-1", "01-1", "10-01", "10-1-1", "-1-1", "10-x", "1e3-1", "1234567890-1"])("rejects %j", (id) => {
        expect(parseReportId(id)).toBeUndefined();
    });
});
