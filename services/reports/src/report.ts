/**
 * The report: summary statistics of `size` synthetic latency samples drawn from a seeded
 * generator. Building one is CPU-bound (generate, then sort: O(size log size)), so request load
 * turns into CPU load that the HorizontalPodAutoscaler can see. A report is a pure function of
 * `(size, seed)`, which makes its id stable and lets any replica answer `GET /reports/:id`.
 *
 * This module is also the worker-thread entry: the service runs {@link buildReportTask} in a
 * pool so that a busy pod still answers its probes at once.
 */

/** A finished report. */
export interface Report {
    /** `<size>-<seed>`: enough to rebuild the report anywhere. */
    id: string;
    /** Number of samples summarised. */
    size: number;
    /** Seed of the sample generator. */
    seed: number;
    /** Sample statistics, in milliseconds. */
    stats: { min: number; max: number; mean: number; stddev: number; p50: number; p90: number; p99: number };
    /** Ten equal-width buckets from min to max: how many samples fall in each. */
    histogram: number[];
}

/** Number of histogram buckets. */
export const HISTOGRAM_BUCKETS = 10;

/** The id of the report of `(size, seed)`. */
export function reportId(size: number, seed: number): string {
    return `${size}-${seed}`;
}

/** The `(size, seed)` an id stands for, or undefined when it is not a report id. */
export function parseReportId(id: string): { size: number; seed: number } | undefined {
    const m = /^([1-9][0-9]{0,8})-(0|[1-9][0-9]{0,9})$/.exec(id);
    return m ? { size: Number(m[1]), seed: Number(m[2]) } : undefined;
}

/** mulberry32: a small, fast, seeded 32-bit generator; uniform in [0, 1). */
function uniform(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** Log-normal latency samples (median about 20 ms), Box-Muller over {@link uniform}. */
function samples(size: number, seed: number): Float64Array {
    const next = uniform(seed);
    const out = new Float64Array(size);
    for (let i = 0; i < size; i++) {
        const u = 1 - next(); // (0, 1]: log(0) would be -Infinity
        const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
        out[i] = Math.exp(3 + 0.5 * normal);
    }
    return out;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** Builds the report of `size` samples from `seed`. */
export function buildReport(size: number, seed: number): Report {
    const values = samples(size, seed).sort();
    let sum = 0;
    for (const v of values) sum += v;
    const mean = sum / size;
    let squares = 0;
    for (const v of values) squares += (v - mean) ** 2;
    const min = values[0] ?? NaN;
    const max = values[size - 1] ?? NaN;
    const width = (max - min) / HISTOGRAM_BUCKETS;
    const histogram = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
    for (const v of values) {
        const bucket = width > 0 ? Math.min(HISTOGRAM_BUCKETS - 1, Math.floor((v - min) / width)) : 0;
        histogram[bucket] = (histogram[bucket] ?? 0) + 1;
    }
    return {
        id: reportId(size, seed),
        size,
        seed,
        stats: {
            min: round(min),
            max: round(max),
            mean: round(mean),
            stddev: round(Math.sqrt(squares / size)),
            p50: round(percentile(values, 50)),
            p90: round(percentile(values, 90)),
            p99: round(percentile(values, 99)),
        },
        histogram,
    };
}

/** Worker-thread entry (piscina calls it with one argument). */
export function buildReportTask({ size, seed }: { size: number; seed: number }): Report {
    return buildReport(size, seed);
}
