/**
 * Every relative link in README.md, CHANGELOG.md and docs/*.md points at a file of the
 * repository, and every #anchor at a heading of its target (GitHub's heading slugs), so moving
 * or renaming a section cannot leave a dead link behind.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../support/fixture.js';

/** GitHub's anchor of a heading: lower case, punctuation dropped, each space a hyphen. */
export function headingSlug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Markdown without fenced code blocks, where neither headings nor links are what they seem. */
function withoutFences(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** The anchors of a markdown text's headings, duplicates numbered as GitHub does. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const match of withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = headingSlug(match[1]!);
    const count = seen.get(slug) ?? 0;
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
    seen.set(slug, count + 1);
  }
  return anchors;
}

/** Relative link targets of a markdown text (images included; web and mail links left out). */
function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  // Inline code is no link either (but a link's text may be code: `[`x`](x)`).
  const text = withoutFences(markdown).replace(/(?<!\[)`[^`\n]*`(?!\])/g, '');
  for (const match of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const target = match[1]!;
    if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) targets.push(target);
  }
  return targets;
}

/**
 * Problems with the links of the markdown file `file` (text `markdown`): a missing target file
 * or a missing heading anchor. `read` gives the text of another markdown file.
 */
export function brokenLinks(file: string, markdown: string, read: (path: string) => string | undefined): string[] {
  const problems: string[] = [];
  for (const target of linkTargets(markdown)) {
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
    const path = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart));
    const text = read(path);
    if (text === undefined) {
      problems.push(`${target}: no such file`);
      continue;
    }
    if (anchor !== undefined && path.endsWith('.md') && !anchorsOf(text).has(anchor.toLowerCase())) {
      problems.push(`${target}: no heading with the anchor #${anchor}`);
    }
  }
  return problems;
}

function readRepoFile(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  return statSync(path).isDirectory() ? '' : readFileSync(path, 'utf8');
}

describe('documentation links', () => {
  test('the checker finds a missing file and a missing anchor, and passes good links', () => {
    const files: Record<string, string> = {
      '/r/README.md': '# Title\n\n## Install, test & demo\n\nSee [spec](docs/spec.md#the-rules) and [here](#install-test--demo); `[code](missing.md)` is no link.\n',
      '/r/docs/spec.md': '# Spec\n\n## The `rules`\n\n```\n[not a link](missing.md)\n```\n',
    };
    const read = (p: string) => files[p];
    assert.deepEqual(brokenLinks('/r/README.md', files['/r/README.md']!, read), []);
    assert.deepEqual(
      brokenLinks('/r/README.md', '[a](docs/nope.md) [b](docs/spec.md#nope) [c](#title) [d](https://example.com/x.md)', read),
      ['docs/nope.md: no such file', 'docs/spec.md#nope: no heading with the anchor #nope'],
    );
  });

  test('slugs follow GitHub: punctuation dropped, each space a hyphen', () => {
    assert.equal(headingSlug('Patch insertion / deletion'), 'patch-insertion--deletion');
    assert.equal(headingSlug('The `official` preset'), 'the-official-preset');
    assert.equal(headingSlug('Time per image, and what ImageNet costs'), 'time-per-image-and-what-imagenet-costs');
  });

  const docs = join(REPO_ROOT, 'docs');
  const files = [
    join(REPO_ROOT, 'README.md'),
    join(REPO_ROOT, 'CHANGELOG.md'),
    ...readdirSync(docs).filter((name) => name.endsWith('.md')).map((name) => join(docs, name)),
  ];
  for (const file of files) {
    test(`every relative link in ${relative(REPO_ROOT, file)} resolves`, () => {
      assert.deepEqual(brokenLinks(file, readFileSync(file, 'utf8'), readRepoFile), []);
    });
  }
});
