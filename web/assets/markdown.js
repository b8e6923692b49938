// A small Markdown renderer for the assistant's answers: paragraphs and line breaks, **bold**, *italic*,
// `code`, fenced code, lists (- item / 1. item), quotes, headings and http(s) links. It builds DOM nodes and
// sets only textContent, so text is never interpreted as HTML, whatever it contains. Each block takes its
// direction from its own first letters (dir=auto): an answer in Urdu reads right to left, code left to right.

const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*(\d{1,9})[.)]\s+(.*)$/;
const HEADING = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const FENCE = /^\s{0,3}```/;

/**
 * @param {string} text
 * @returns {DocumentFragment}
 */
export function renderMarkdown(text) {
  const out = document.createDocumentFragment();
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
    } else if (FENCE.test(line)) {
      const code = [];
      i++;
      while (i < lines.length && !FENCE.test(lines[i])) code.push(lines[i++]);
      i++;
      const pre = document.createElement("pre");
      pre.dir = "ltr";
      const c = document.createElement("code");
      c.textContent = code.join("\n");
      pre.append(c);
      out.append(pre);
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      const ordered = !BULLET.test(line);
      const re = ordered ? NUMBERED : BULLET;
      const list = document.createElement(ordered ? "ol" : "ul");
      if (ordered) {
        const first = Number((NUMBERED.exec(line) || [])[1]);
        if (first > 1) list.setAttribute("start", String(first));
      }
      while (i < lines.length && re.test(lines[i])) {
        const m = re.exec(lines[i]) || [];
        const li = document.createElement("li");
        li.dir = "auto";
        inline(ordered ? m[2] : m[1], li);
        list.append(li);
        i++;
        // A following indented line continues the item.
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !BULLET.test(lines[i]) && !NUMBERED.test(lines[i])) {
          li.append(document.createElement("br"));
          inline(lines[i++].trim(), li);
        }
      }
      out.append(list);
    } else if (HEADING.test(line)) {
      const p = document.createElement("p");
      p.className = "md-h";
      p.dir = "auto";
      const b = document.createElement("strong");
      inline((HEADING.exec(line) || [])[1] || "", b);
      p.append(b);
      out.append(p);
      i++;
    } else if (QUOTE.test(line)) {
      const q = document.createElement("blockquote");
      q.dir = "auto";
      const parts = [];
      while (i < lines.length && QUOTE.test(lines[i])) parts.push((QUOTE.exec(lines[i++]) || [])[1] || "");
      paragraph(parts, q);
      out.append(q);
    } else {
      const parts = [];
      while (i < lines.length && lines[i].trim() && !startsBlock(lines[i])) parts.push(lines[i++]);
      const p = document.createElement("p");
      p.dir = "auto";
      paragraph(parts, p);
      out.append(p);
    }
  }
  return out;
}

/** @param {string} line */
function startsBlock(line) {
  return FENCE.test(line) || BULLET.test(line) || NUMBERED.test(line) || HEADING.test(line) || QUOTE.test(line);
}

/**
 * Lines of one paragraph, joined by line breaks.
 * @param {string[]} lines
 * @param {HTMLElement} into
 */
function paragraph(lines, into) {
  lines.forEach((l, n) => {
    if (n > 0) into.append(document.createElement("br"));
    inline(l.trim(), into);
  });
}

// \x (any ASCII punctuation, shown as itself: how the server quotes a task's own text) | `code` | **bold** |
// __bold__ | *italic* | _italic_ | [text](http…)
const INLINE =
  /\\([!-/:-@[-`{-~])|`([^`]+)`|\*\*(?=\S)(.+?)\*\*|__(?=\S)(.+?)__|\*(?=[^\s*])(.+?)\*|(?<![\w])_(?=\S)(.+?)_(?![\w])|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g;

/**
 * @param {string} text
 * @param {HTMLElement} into
 */
function inline(text, into) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    const at = m.index ?? 0;
    if (at > last) into.append(text.slice(last, at));
    last = at + m[0].length;
    if (m[1] !== undefined) {
      into.append(m[1]);
    } else if (m[2] !== undefined) {
      into.append(Object.assign(document.createElement("code"), { textContent: m[2] }));
    } else if (m[3] !== undefined || m[4] !== undefined) {
      const b = document.createElement("strong");
      inline(m[3] ?? m[4], b);
      into.append(b);
    } else if (m[5] !== undefined || m[6] !== undefined) {
      const e = document.createElement("em");
      inline(m[5] ?? m[6], e);
      into.append(e);
    } else {
      const a = document.createElement("a");
      a.href = m[8];
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      inline(m[7], a);
      into.append(a);
    }
  }
  if (last < text.length) into.append(text.slice(last));
}
