/**
 * plan.svg: one panel per service, three charts stacked on one time axis: the load (offered and
 * served requests per second), the replicas (desired, ready, pending pods) and the HPA's CPU
 * utilization against its target. Plain SVG 1.1, no scripts, so a browser opens it as it is.
 */
import type { ServiceResult, SimResult } from "./simulate";

const WIDTH = 960;
const LEFT = 70;
const RIGHT = 20;
const CHART = 90;
const GAP = 46;
const PANEL_TOP = 34;
const PANEL = PANEL_TOP + 3 * (CHART + GAP) + 10;

const COLORS = { load: "#4c78a8", served: "#9ecae9", desired: "#f58518", ready: "#54a24b", pending: "#e45756", cpu: "#b279a2", target: "#555" };

/** Text content or attribute value, escaped for XML. */
export function escapeXml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

const fmt = (n: number) => (Math.round(n * 10) / 10).toString();

/** A polyline of the values, downsampled to at most one point per pixel column (keeping each column's max). */
function path(values: readonly number[], x0: number, width: number, y0: number, height: number, top: number, step = false): string {
    if (values.length === 0 || top <= 0) return "";
    const columns = Math.min(values.length, Math.floor(width));
    const per = values.length / columns;
    const pts: string[] = [];
    let prevY: number | undefined;
    for (let c = 0; c < columns; c++) {
        let v = -Infinity;
        for (let i = Math.floor(c * per); i < Math.max(Math.floor((c + 1) * per), Math.floor(c * per) + 1); i++) v = Math.max(v, values[i] ?? 0);
        const x = x0 + (c / Math.max(1, columns - 1)) * width;
        const y = y0 + height - (Math.min(v, top) / top) * height;
        if (step && prevY !== undefined && prevY !== y) pts.push(`${fmt(x)},${fmt(prevY)}`);
        pts.push(`${fmt(x)},${fmt(y)}`);
        prevY = y;
    }
    return pts.join(" ");
}

function niceTop(max: number): number {
    if (max <= 0) return 1;
    const p = 10 ** Math.floor(Math.log10(max));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((v) => v >= max) ?? max;
}

function chart(y: number, title: string, top: number, unit: string, lines: { values: number[]; color: string; label: string; dash?: string; step?: boolean }[], duration: number): string {
    const w = WIDTH - LEFT - RIGHT;
    const parts = [
        `<rect x="${LEFT}" y="${y}" width="${w}" height="${CHART}" fill="#fafafa" stroke="#ddd"/>`,
        `<text x="${LEFT - 6}" y="${y + 10}" text-anchor="end" class="tick">${escapeXml(`${fmt(top)}${unit}`)}</text>`,
        `<text x="${LEFT - 6}" y="${y + CHART}" text-anchor="end" class="tick">0</text>`,
        `<text x="${LEFT}" y="${y - 6}" class="label">${escapeXml(title)}</text>`,
    ];
    let lx = LEFT + title.length * 6.6 + 24;
    for (const l of lines) {
        parts.push(`<polyline fill="none" stroke="${l.color}" stroke-width="1.6"${l.dash ? ` stroke-dasharray="${l.dash}"` : ""} points="${path(l.values, LEFT, w, y, CHART, top, l.step)}"/>`);
        parts.push(`<rect x="${lx}" y="${y - 14}" width="10" height="3" fill="${l.color}"/><text x="${lx + 14}" y="${y - 10}" class="tick">${escapeXml(l.label)}</text>`);
        lx += 20 + l.label.length * 6.2;
    }
    for (let k = 0; k <= 6; k++) {
        const x = LEFT + (k / 6) * w;
        parts.push(`<text x="${fmt(x)}" y="${y + CHART + 12}" text-anchor="middle" class="tick">${Math.round((k / 6) * duration)} s</text>`);
    }
    return parts.join("\n");
}

function panel(s: ServiceResult, index: number, duration: number): string {
    const y0 = index * PANEL;
    const rps = s.series.map((p) => p.rps);
    const served = s.series.map((p) => p.servedRps);
    const desired = s.series.map((p) => p.desiredReplicas);
    const ready = s.series.map((p) => p.readyReplicas);
    const pending = s.series.map((p) => p.pendingPods);
    const cpu = s.series.map((p) => p.cpuUtilization ?? 0);
    const target = s.cpuTarget ?? 0;
    const replicaTop = Math.max(s.maxReplicas, ...desired, ...ready, 1);
    const cpuTop = niceTop(Math.max(target * 1.5, ...cpu));
    let y = y0 + PANEL_TOP + 16;
    const out = [
        `<g class="panel" data-service="${escapeXml(s.name)}">`,
        `<text x="10" y="${y0 + 22}" class="title">${escapeXml(`${s.name}: HPA ${s.minReplicas}..${s.maxReplicas} replicas${s.cpuTarget !== null ? `, CPU target ${s.cpuTarget}%` : ""}`)}</text>`,
        chart(y, "load (requests/s)", niceTop(Math.max(...rps, 1)), "", [
            { values: rps, color: COLORS.load, label: "offered" },
            { values: served, color: COLORS.served, label: "served", dash: "4 2" },
        ], duration),
    ];
    y += CHART + GAP;
    out.push(chart(y, "replicas", replicaTop, "", [
        { values: desired, color: COLORS.desired, label: "desired (HPA)", step: true },
        { values: ready, color: COLORS.ready, label: "ready", step: true },
        { values: pending, color: COLORS.pending, label: "pending", step: true },
    ], duration));
    y += CHART + GAP;
    out.push(chart(y, "CPU utilization (% of request, as the HPA sees it)", cpuTop, "%", [
        { values: cpu, color: COLORS.cpu, label: "utilization", step: true },
        { values: cpu.map(() => target), color: COLORS.target, label: `target ${target}%`, dash: "6 3" },
    ], duration));
    out.push("</g>");
    return out.join("\n");
}

/** The whole picture. */
export function planSvg(stack: string, result: SimResult): string {
    const duration = result.services[0]?.series.length ?? 0;
    const height = result.services.length * PANEL + 10;
    return [
        `<?xml version="1.0" encoding="UTF-8"?>`,
        `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
        `<title>${escapeXml(`kubeforge plan: stack ${stack}`)}</title>`,
        `<style>.title{font-size:15px;font-weight:bold}.label{font-size:12px}.tick{font-size:10px;fill:#555}</style>`,
        `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
        ...result.services.map((s, i) => panel(s, i, duration)),
        `</svg>`,
        "",
    ].join("\n");
}
