/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), enough to check that
 * /metrics is well-formed and to read values: every line must be a HELP, a TYPE, or a sample
 * `name{label="value",...} value [timestamp]` of a declared family; anything else throws.
 * (parse-prometheus-text-format 1.x drops the labels of histogram series, so it cannot be used.)
 */

/** One sample line. */
export interface Sample {
    name: string;
    labels: Record<string, string>;
    value: number;
}

/** A parsed exposition: family types by name, and every sample in order. */
export interface Exposition {
    types: Map<string, string>;
    samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?[0-9]+))?$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/y;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const SUFFIXES: Record<string, string[]> = { histogram: ["_bucket", "_sum", "_count"], summary: ["_sum", "_count"] };

/** Like Prometheus (Go's ParseFloat), NaN and Inf in any case: prom-client writes `Nan`. */
function parseValue(text: string, line: string): number {
    if (/^\+?inf$/i.test(text)) return Infinity;
    if (/^-inf$/i.test(text)) return -Infinity;
    if (/^nan$/i.test(text)) return NaN;
    const value = Number(text);
    if (text === "" || Number.isNaN(value)) throw new Error(`bad sample value in ${JSON.stringify(line)}`);
    return value;
}

function parseLabels(text: string, line: string): Record<string, string> {
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < text.length) {
        const m = LABEL.exec(text);
        if (!m) throw new Error(`bad labels in ${JSON.stringify(line)}`);
        labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_all, c: string) => (c === "n" ? "\n" : c));
    }
    return labels;
}

/** The family a sample name belongs to, given the declared types. */
function familyOf(name: string, types: Map<string, string>): string | undefined {
    if (types.has(name)) return name;
    for (const [family, type] of types) {
        if ((SUFFIXES[type] ?? []).some((suffix) => name === family + suffix)) return family;
    }
    return undefined;
}

export function parsePrometheusText(text: string): Exposition {
    const types = new Map<string, string>();
    const samples: Sample[] = [];
    for (const line of text.split("\n")) {
        if (line === "") continue;
        if (line.startsWith("#")) {
            const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
            if (!meta) throw new Error(`bad comment line ${JSON.stringify(line)}`);
            if (meta[1] === "TYPE") {
                if (!TYPES.has(meta[3]!)) throw new Error(`unknown type in ${JSON.stringify(line)}`);
                types.set(meta[2]!, meta[3]!);
            }
            continue;
        }
        const m = SAMPLE.exec(line);
        if (!m) throw new Error(`bad sample line ${JSON.stringify(line)}`);
        if (!familyOf(m[1]!, types)) throw new Error(`sample of an undeclared family: ${JSON.stringify(line)}`);
        samples.push({ name: m[1]!, labels: parseLabels(m[2] ?? "", line), value: parseValue(m[3]!, line) });
    }
    return { types, samples };
}

/** The value of the sample `name` whose labels include `labels`; 0 when there is none. */
export function sampleValue(exposition: Exposition, name: string, labels: Record<string, string>): number {
    const sample = exposition.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    return sample?.value ?? 0;
}
