/**
 * @module test/support/html-forms — a tiny HTML form reader for headless tests: finds
 * `<form>` elements, their action/method, the successful controls a browser would submit
 * (HTML §4.10.21.4, simplified: no nested forms, no `form=` attribute) and the submit buttons.
 * Regex-based on purpose: it reads the server-rendered pages of Gitea and of the broker.
 */

export interface HtmlFormSubmitter {
  name?: string;
  value: string;
  /** Visible text of a `<button>`, or the `value` of an `<input type=submit>`. */
  text: string;
  attrs: Record<string, string>;
}

export interface HtmlForm {
  /** Absolute action URL (the page URL when the form has no action). */
  action: string;
  method: 'GET' | 'POST';
  enctype: string;
  attrs: Record<string, string>;
  /** Successful controls in document order (hidden/text/password inputs, checked boxes, selects, textareas). */
  fields: Array<[string, string]>;
  /** Submit buttons (`<button>` without type or type=submit, `<input type=submit|image>`). */
  submitters: HtmlFormSubmitter[];
  /** The form's outer HTML. */
  html: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decodes the character references found in attribute values and text. */
export function decodeHtmlEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/** Attributes of one start tag (`<input type="hidden" name=a value='b' disabled>`), names lower-cased. */
export function parseAttributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inner = tag.replace(/^<\s*[a-z0-9-]+/i, '').replace(/\/?>$/, '');
  const re = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  for (let m = re.exec(inner); m; m = re.exec(inner)) {
    const name = m[1]!.toLowerCase();
    if (!(name in out)) out[name] = decodeHtmlEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

function stripTags(html: string): string {
  return decodeHtmlEntities(html.replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim();
}

/** Every `<form>` of `html`, with actions resolved against `pageUrl`. */
export function parseForms(html: string, pageUrl: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  const formRe = /<form\b[^>]*>[\s\S]*?<\/form\s*>/gi;
  for (let m = formRe.exec(html); m; m = formRe.exec(html)) {
    const outer = m[0];
    const attrs = parseAttributes(/^<form\b[^>]*>/i.exec(outer)![0]);
    const fields: Array<[string, string]> = [];
    const submitters: HtmlFormSubmitter[] = [];
    const controlRe = /<(input)\b[^>]*>|<(button)\b([^>]*)>([\s\S]*?)<\/button\s*>|<(select)\b([^>]*)>([\s\S]*?)<\/select\s*>|<(textarea)\b([^>]*)>([\s\S]*?)<\/textarea\s*>/gi;
    for (let c = controlRe.exec(outer); c; c = controlRe.exec(outer)) {
      if (c[1]) {
        const a = parseAttributes(c[0]);
        const type = (a.type ?? 'text').toLowerCase();
        if ('disabled' in a) continue;
        if (type === 'submit' || type === 'image') {
          submitters.push({ ...(a.name ? { name: a.name } : {}), value: a.value ?? '', text: a.value ?? '', attrs: a });
        } else if (!a.name || ['button', 'reset', 'file'].includes(type)) {
          continue;
        } else if (type === 'checkbox' || type === 'radio') {
          if ('checked' in a) fields.push([a.name, a.value ?? 'on']);
        } else {
          fields.push([a.name, a.value ?? '']);
        }
      } else if (c[2]) {
        const a = parseAttributes(`<button${c[3]}>`);
        const type = (a.type ?? 'submit').toLowerCase();
        if (type === 'submit' && !('disabled' in a)) {
          submitters.push({ ...(a.name ? { name: a.name } : {}), value: a.value ?? '', text: stripTags(c[4] ?? ''), attrs: a });
        }
      } else if (c[5]) {
        const a = parseAttributes(`<select${c[6]}>`);
        if (!a.name || 'disabled' in a) continue;
        const options = [...(c[7] ?? '').matchAll(/<option\b([^>]*)>([^<]*)/gi)].map((o) => {
          const oa = parseAttributes(`<option${o[1]}>`);
          return { selected: 'selected' in oa, value: oa.value ?? stripTags(o[2] ?? '') };
        });
        const chosen = options.find((o) => o.selected) ?? options[0];
        if (chosen) fields.push([a.name, chosen.value]);
      } else if (c[8]) {
        const a = parseAttributes(`<textarea${c[9]}>`);
        if (a.name && !('disabled' in a)) fields.push([a.name, decodeHtmlEntities((c[10] ?? '').replace(/^\r?\n/, ''))]);
      }
    }
    forms.push({
      action: new URL(attrs.action || pageUrl, pageUrl).href,
      method: (attrs.method ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET',
      enctype: attrs.enctype ?? 'application/x-www-form-urlencoded',
      attrs,
      fields,
      submitters,
      html: outer,
    });
  }
  return forms;
}

/**
 * The first form of `html` whose action path contains `match` (a string), or for which
 * `match` returns true. Throws, quoting the forms found, when none fits.
 */
export function findForm(html: string, pageUrl: string, match?: string | ((f: HtmlForm) => boolean)): HtmlForm {
  const forms = parseForms(html, pageUrl);
  const pred = typeof match === 'string' ? (f: HtmlForm) => new URL(f.action).pathname.includes(match) : (match ?? (() => true));
  const found = forms.find(pred);
  if (!found) {
    const seen = forms.map((f) => `${f.method} ${f.action}`).join(', ') || 'none';
    throw new Error(`no form matching ${String(match ?? '(any)')} on ${pageUrl} (forms: ${seen})`);
  }
  return found;
}

/**
 * The name/value pairs a browser submits: the form's fields, then `overrides` (a key
 * replaces every field of that name; `undefined` removes it), then the chosen submitter's
 * name=value when it has a name and is not already overridden.
 */
export function formData(
  form: HtmlForm,
  overrides: Record<string, string | undefined> = {},
  submitter?: HtmlFormSubmitter,
): URLSearchParams {
  const params = new URLSearchParams();
  for (const [k, v] of form.fields) if (!(k in overrides)) params.append(k, v);
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) params.append(k, v);
  if (submitter?.name && !(submitter.name in overrides)) params.append(submitter.name, submitter.value);
  return params;
}

/** True when the form has a control named `name` (e.g. `_csrf`). */
export function hasField(form: HtmlForm, name: string): boolean {
  return form.fields.some(([k]) => k === name);
}
