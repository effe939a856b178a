// LLM-as-judge: a case's answer scored 1 to 5 against its rubric by the
// set's judge route, through the gateway like any request. The last user
// message is `RUBRIC:\n<rubric>\nANSWER:\n<answer>`, which the demo
// provider's `judge` model reads (core/src/demo.rs); a real model also gets
// the system prompt. Either answers `SCORE: <1-5>`.

const SYSTEM = 'You grade answers. Score the ANSWER against the RUBRIC from 1 (misses it entirely) to 5 (meets it fully). '
  + 'Reply with exactly "SCORE: <1-5>" and nothing else.';

/** The judge's request body for `route`. */
export function judgeRequest(route, rubric, answer) {
  return {
    model: route,
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: `RUBRIC:\n${rubric}\nANSWER:\n${answer}` },
    ],
    temperature: 0,
  };
}

/** The score in a judge's answer (`SCORE: 4`), or null. */
export function parseScore(text) {
  const match = /SCORE:\s*([1-5])(?![\d.])/i.exec(text ?? '');
  return match ? Number(match[1]) : null;
}
