// The LLM judge of METHOD.md §6: the RadDiff 2/1/0 rubric as our own prompt, one call per finding through the
// LlmPort, JSON replies read leniently (code fences, prose, <think> blocks) and validated with zod, retries with
// exponential backoff and a corrective turn on malformed replies, and a failed verdict value when attempts run out.
// Pure: imports only core and zod; timers come from globalThis (present in browsers, workers and Node).

import { z } from 'zod';
import type { Judge, JudgeInput, JudgeScore, JudgeVerdict } from '../evaluator.ts';
import type { AbortSignalLike, LlmMessage, LlmPort, LlmRequest } from '../llm.ts';
import { callWithDeadline, sleep as sleepFor } from '../timing.ts';
import { namedError } from '../types.ts';

/** Changes whenever the prompt, schema or reply handling changes meaning; part of any cache key of judge calls. */
export const LLM_JUDGE_PROMPT_VERSION = 'judge-rubric/1';

/** JSON Schema of one reply, for engines with constrained decoding. */
export const JUDGE_REPLY_SCHEMA = {
  type: 'object',
  properties: {
    score: { type: 'integer', enum: [0, 1, 2] },
    rationale: { type: 'string' },
  },
  required: ['score', 'rationale'],
  additionalProperties: false,
} as const;

const SYSTEM_PROMPT = [
  'You grade the output of a system that compares two groups of chest radiographs. The system was asked for a',
  'short finding that is more common in group A than in group B. You are given a reference description of each',
  'group and one finding the system produced. Decide how well the finding captures what sets group A apart.',
  '',
  'Scores:',
  "2 - the finding expresses the same difference as group A's reference: the same abnormality, device or",
  '    feature, with a compatible side, location and severity. Synonyms and different wording count as the same.',
  '1 - the finding points the right way but only partly: it is broader or narrower than the reference, leaves',
  '    out or changes a qualifier that matters (such as the side), or names a closely related finding.',
  '0 - the finding does not point to group A: it fits group B at least as well, names an unrelated finding,',
  "    states the opposite of A's reference, or is too vague to tell.",
  '',
  'Judge the meaning of the words only; you do not see the images. Reply with one JSON object and nothing else:',
  '{"score": 0 | 1 | 2, "rationale": "<one short sentence>"}',
].join('\n');

/** The chat messages of one judgement (ground truth trimmed: RadDiffBench descriptions end in a space). */
export function buildJudgeMessages(input: JudgeInput): LlmMessage[] {
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    {
      role: 'user',
      content: [
        `Group A reference: ${JSON.stringify(input.truthA.trim())}`,
        `Group B reference: ${JSON.stringify(input.truthB.trim())}`,
        `Finding (claimed to be more common in group A): ${JSON.stringify(input.finding.trim())}`,
      ].join('\n'),
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Reply parsing
// ---------------------------------------------------------------------------------------------------------------

const replySchema = z.object({
  score: z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'score must be 0, 1 or 2' }),
  // Optional: a bare {"score": 2} still carries the judgement; a rationale of the wrong type does not pass.
  rationale: z.string().optional(),
});

/** The outcome of reading one reply. */
export type ParsedJudgeReply =
  { ok: true; score: JudgeScore; rationale: string } | { ok: false; error: string };

/** Replies longer than this are cut before scanning: bounds the work on a runaway generation. */
const MAX_REPLY_CHARS = 50_000;
/** Opening braces tried in the balanced-object scan: bounds the work on adversarial text. */
const MAX_BRACE_STARTS = 64;

/** The `{...}` substring starting at `start` with balanced braces outside strings, or undefined. */
function balancedObject(text: string, start: number): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i += 1;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{') depth += 1;
    else if (ch === '}') {
      depth -= 1;
      if (depth === 0) return text.slice(start, i + 1);
    }
  }
  return undefined;
}

/** JSON values found in a reply, most likely first: the whole text, fenced blocks, then balanced `{...}`. */
function jsonCandidates(reply: string): unknown[] {
  // Reasoning models wrap their thoughts in <think>…</think>; the answer follows. An unclosed block has no answer.
  const text = reply
    .slice(0, MAX_REPLY_CHARS)
    .replace(/<think>[\s\S]*?<\/think>/gi, ' ')
    .replace(/<think>[\s\S]*$/i, ' ')
    .trim();
  const sources: string[] = [text];
  for (const m of text.matchAll(/```[a-zA-Z]*[ \t]*\r?\n?([\s\S]*?)```/g)) sources.push((m[1] ?? '').trim());
  let starts = 0;
  for (let i = text.indexOf('{'); i >= 0 && starts < MAX_BRACE_STARTS; i = text.indexOf('{', i + 1)) {
    starts += 1;
    const candidate = balancedObject(text, i);
    if (candidate !== undefined) sources.push(candidate);
  }
  const values: unknown[] = [];
  for (const source of sources) {
    if (source === '') continue;
    try {
      values.push(JSON.parse(source));
    } catch {
      // Not JSON on its own; a later candidate may be.
    }
  }
  return values;
}

/**
 * Reads a judge reply leniently: the JSON object may be the whole reply, in a code fence, or surrounded by prose
 * or a `<think>` block. The first object that passes the schema wins. Never throws.
 */
export function parseJudgeReply(reply: string): ParsedJudgeReply {
  if (typeof reply !== 'string' || reply.trim() === '') return { ok: false, error: 'empty reply' };
  let firstProblem: string | undefined;
  for (const value of jsonCandidates(reply)) {
    const result = replySchema.safeParse(value);
    if (result.success) {
      return { ok: true, score: result.data.score, rationale: (result.data.rationale ?? '').trim() };
    }
    firstProblem ??= result.error.issues
      .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'reply'}: ${issue.message}`)
      .join('; ');
  }
  return { ok: false, error: firstProblem ?? 'no JSON object in the reply' };
}

const CANCELLED = 'judging was cancelled';

function abortError(): Error {
  return namedError('AbortError', CANCELLED);
}

/** Resolves after `ms`, or rejects with an AbortError as soon as `signal` aborts (the judge's default backoff). */
export function sleep(ms: number, signal?: AbortSignalLike): Promise<void> {
  return sleepFor(ms, signal, CANCELLED);
}

// ---------------------------------------------------------------------------------------------------------------
// The judge
// ---------------------------------------------------------------------------------------------------------------

/** One attempt, for logs and tests. */
export interface JudgeAttemptEvent {
  finding: string;
  attempt: number;
  outcome: 'ok' | 'malformed' | 'error';
  detail?: string;
}

/** Options of {@link createLlmJudge}. */
export interface LlmJudgeOptions {
  llm: LlmPort;
  /** Calls per finding before the verdict fails (default 3). */
  maxAttempts?: number;
  /** Wait before the 2nd attempt; doubles each retry (default 500 ms). */
  backoffMs?: number;
  /** Cap on one wait (default 8000 ms). */
  maxBackoffMs?: number;
  /** Deadline of one call; undefined (default) leaves timeouts to the engine. */
  attemptTimeoutMs?: number;
  /** Default 0: grading should not be creative. */
  temperature?: number;
  /** Default 0. */
  seed?: number;
  /** Default 256. */
  maxTokens?: number;
  /** Injected in tests; defaults to a globalThis timer. */
  sleep?: (ms: number, signal?: AbortSignalLike) => Promise<void>;
  onAttempt?: (event: JudgeAttemptEvent) => void;
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * The LLM judge behind the {@link Judge} port: one request per finding, sequentially (local engines serve one
 * request at a time). A malformed reply is retried with the bad reply and a correction appended to the
 * conversation (a deterministic engine would otherwise repeat itself); a thrown call or timeout is retried as is.
 * After `maxAttempts` the verdict is `{ score: null, error }`. Only an abort of `signal` rejects.
 */
export function createLlmJudge(options: LlmJudgeOptions): Judge {
  const maxAttempts = options.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  }
  const backoffMs = options.backoffMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 8000;
  const wait = options.sleep ?? sleep;

  async function judgeOne(input: JudgeInput, signal?: AbortSignalLike): Promise<JudgeVerdict> {
    const messages = buildJudgeMessages(input);
    let lastProblem = 'no attempt made';
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (signal?.aborted) throw abortError();
      if (attempt > 1) await wait(Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 2)), signal);
      const request: LlmRequest = {
        messages: [...messages],
        jsonSchema: JUDGE_REPLY_SCHEMA,
        temperature: options.temperature ?? 0,
        seed: options.seed ?? 0,
        maxTokens: options.maxTokens ?? 256,
      };
      let text: string;
      try {
        const reply = await callWithDeadline(
          (s) => options.llm.complete(request, s),
          options.attemptTimeoutMs,
          signal,
          CANCELLED,
        );
        text = typeof reply?.text === 'string' ? reply.text : '';
      } catch (error) {
        // Only our own cancellation stops the judge; an engine-side AbortError (e.g. our deadline) is a failure.
        if (signal?.aborted) throw abortError();
        lastProblem = errorText(error);
        options.onAttempt?.({ finding: input.finding, attempt, outcome: 'error', detail: lastProblem });
        continue;
      }
      const parsed = parseJudgeReply(text);
      if (parsed.ok) {
        options.onAttempt?.({ finding: input.finding, attempt, outcome: 'ok' });
        return parsed.rationale === ''
          ? { score: parsed.score }
          : { score: parsed.score, rationale: parsed.rationale };
      }
      lastProblem = `malformed reply (${parsed.error})`;
      options.onAttempt?.({ finding: input.finding, attempt, outcome: 'malformed', detail: parsed.error });
      messages.push(
        { role: 'assistant', content: text.slice(0, 2000) },
        {
          role: 'user',
          content:
            `That reply could not be used: ${parsed.error}. Answer again with only the JSON object ` +
            '{"score": 0 | 1 | 2, "rationale": "<one short sentence>"}.',
        },
      );
    }
    return { score: null, error: `no valid judgement after ${maxAttempts} attempt(s): ${lastProblem}` };
  }

  return {
    async judge(input: readonly JudgeInput[], signal?: AbortSignalLike): Promise<JudgeVerdict[]> {
      const verdicts: JudgeVerdict[] = [];
      for (const item of input) verdicts.push(await judgeOne(item, signal));
      return verdicts;
    },
  };
}
