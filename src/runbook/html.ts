/** Small helpers for the self-contained, printable HTML files (checklist, rehearsal report). */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const CSS = `
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2125;max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:2px solid #d0d7de;padding-bottom:.2rem;margin-top:1.8rem}
.meta{color:#57606a}.total{color:#57606a;font-weight:normal;font-size:.9rem;float:right}
ul.steps{list-style:none;padding-left:0}ul.steps li{margin:.6rem 0;page-break-inside:avoid}
input[type=checkbox]{transform:scale(1.3);margin-right:.5rem;vertical-align:middle}
.kind{font:12px ui-monospace,Menlo,Consolas,monospace;background:#eef1f4;border-radius:4px;padding:1px 5px;margin-left:.4rem}
.exp{color:#57606a;font-size:.9rem;margin-left:.4rem}
.desc{color:#3a3f45;margin:.2rem 0 .2rem 1.6rem;font-size:.95rem}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.5rem .7rem;overflow:auto;font-size:12px;margin:.3rem 0 0 1.9rem}
.marker{background:#fff4e5;border-left:4px solid #d97706;padding:.4rem .7rem;margin:.8rem 0;font-weight:600}
.ok{color:#1a7f37}.bad{color:#cf222e}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #d0d7de;padding:3px 6px;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.rollback h2{border-color:#cf222e}
.verdict{margin:.3rem 0}.result{margin:.8rem 0;page-break-inside:avoid}.result h3{font-size:1rem;margin:.2rem 0}.result h3 .meta{font-weight:normal;font-size:.85rem}
.result ul{margin:.2rem 0;padding-left:1.4rem}.result.bad h3{color:#cf222e}
table.breakdown{width:auto;min-width:28rem;margin:.3rem 0 0 1.4rem}.bar{display:inline-block;height:.7rem;background:#d97706;border-radius:2px;vertical-align:middle}
svg{max-width:100%;height:auto}
.rehearsed{color:#1a5e2e;margin:.2rem 0 .2rem 1.6rem;font-size:.9rem}.rehearsed ul{margin:0;padding-left:1.2rem}ul.steps .rehearsed li{margin:0}
@media print{body{margin:0;max-width:none}pre{white-space:pre-wrap}a{color:inherit}}
`;

/** Escaped text with `code` spans, as written in the runbook. */
export const inline = (t: string): string => esc(t).replace(/`([^`]+)`/g, '<code>$1</code>');

export function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>\n<style>${CSS}</style></head>\n<body>\n${body}\n</body></html>\n`;
}
