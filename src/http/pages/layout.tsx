/**
 * @module http/pages/layout
 * The shell of the broker's browser pages (consent, errors): inline CSS only (the CSP allows
 * nothing else), and the security headers every such page carries.
 */
import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';

const CSS = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#eef1f5;
  font:16px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","DejaVu Sans","Liberation Sans",sans-serif;color:#1f2328;padding:1.5rem}
main{background:#fff;max-width:34rem;width:100%;border-radius:14px;box-shadow:0 1px 3px rgba(0,0,0,.08),0 8px 24px rgba(0,0,0,.06);
  padding:2rem 2rem 1.5rem}
.brand{font-size:.8rem;letter-spacing:.06em;text-transform:uppercase;color:#656d76;margin:0 0 .75rem}
h1{font-size:1.35rem;line-height:1.3;margin:0 0 1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0 0 1.25rem;font-size:.95rem}
dt{color:#656d76}dd{margin:0;word-break:break-all}
code{font:.85rem ui-monospace,SFMono-Regular,Menlo,monospace;background:#f3f4f6;padding:.1rem .35rem;border-radius:4px}
.badge{display:inline-block;font-size:.72rem;font-weight:600;padding:.05rem .45rem;border-radius:999px;margin-left:.4rem;vertical-align:middle}
.ok{background:#dafbe1;color:#116329}.warn-b{background:#fff1c2;color:#7d4e00}
.note{border-radius:8px;padding:.75rem 1rem;margin:0 0 1rem;font-size:.93rem}
.power{background:#fff8e6;border:1px solid #f0c36d}.caution{background:#ffebe9;border:1px solid #ff8182}
.info{background:#f6f8fa;border:1px solid #d0d7de}
.actions{display:flex;gap:.75rem;justify-content:flex-end;margin-top:1.5rem}
button{font:inherit;font-weight:600;border-radius:8px;padding:.6rem 1.3rem;cursor:pointer;border:1px solid #d0d7de}
.approve{background:#1f883d;border-color:#1a7f37;color:#fff}.approve:hover{background:#1a7f37}
.deny{background:#f6f8fa;color:#cf222e}.deny:hover{background:#ffebe9}
.foot{margin-top:1.25rem;font-size:.8rem;color:#656d76}
main.wide{max-width:68rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
table{width:100%;border-collapse:collapse;font-size:.9rem;margin:0 0 1rem}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #d8dee4;vertical-align:middle}
th{color:#656d76;font-weight:600;font-size:.8rem}
.row{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;flex-wrap:wrap}
.muted{color:#656d76;font-size:.9rem}
.small{padding:.3rem .8rem;font-size:.85rem}
a.button{display:inline-block;text-decoration:none;font-weight:600;border-radius:8px;padding:.6rem 1.3rem;border:1px solid #1a7f37}
form.inline{display:flex;gap:.75rem;align-items:center;flex-wrap:wrap;margin:.5rem 0 1rem}
input,select{font:inherit;padding:.3rem .5rem;border:1px solid #d0d7de;border-radius:6px}
.token{display:block;word-break:break-all;user-select:all;font-size:.95rem}
.danger-zone{margin-top:1.5rem;padding-top:1rem;border-top:1px solid #d8dee4}
`;

export function Layout(props: { title: string; children: Child; wide?: boolean }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{props.title}</title>
        {/* raw: a constant of ours; escaping would turn its quotes into &quot;, which CSS does not decode. */}
        <style>{raw(CSS)}</style>
      </head>
      <body>
        <main class={props.wide ? 'wide' : undefined}>{props.children}</main>
      </body>
    </html>
  );
}

/**
 * Headers of every broker page: no framing (clickjacking), no caching, no referrer, and a CSP
 * that allows inline styles only and form posts to ourselves and `formTargets` (Chromium checks
 * `form-action` along the redirect chain after a POST, so the forge and the client's redirect
 * origin must be listed).
 */
export function pageHeaders(formTargets: readonly string[] = []): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': [
      "default-src 'none'",
      "style-src 'unsafe-inline'",
      `form-action 'self'${formTargets.map((t) => ` ${t}`).join('')}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
}

/** Renders a page to an HTML document string. */
export function renderPage(node: unknown): string {
  return `<!doctype html>${String(node)}`;
}
