// Reads JSON texts (one a line) and writes what the official twitter-text
// library makes of each: its weighted length, where the valid part ends,
// and the links, hashtags, mentions and cashtags it finds (UTF-16 offsets).
// With --bench ROUNDS, times parseTweet (and the full parse) instead.
'use strict';
const path = require('path');
const tt = require(path.join(process.env.TWITTER_TEXT_DIR, 'node_modules', 'twitter-text'));
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean).map(JSON.parse);
const bench = process.argv.indexOf('--bench');
if (bench >= 0) {
  const rounds = Number(process.argv[bench + 1] || 5);
  const full = process.argv.includes('--full');
  const one = full
    ? (t) => { tt.parseTweet(t); tt.extractEntitiesWithIndices(t); }
    : (t) => tt.parseTweet(t);
  for (const t of lines) one(t);  // warm-up
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (const t of lines) one(t);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  process.stdout.write(JSON.stringify({texts: lines.length, seconds: best}));
} else {
  const out = lines.map((text) => {
    const p = tt.parseTweet(text);
    const pairs = (list, key) => list.map((e) => [e[key], e.indices]);
    return {
      weighted: p.weightedLength,
      validEnd: p.validRangeEnd,
      urls: pairs(tt.extractUrlsWithIndices(text), 'url'),
      hashtags: pairs(tt.extractHashtagsWithIndices(text), 'hashtag'),
      mentions: pairs(tt.extractMentionsWithIndices(text), 'screenName'),
      cashtags: pairs(tt.extractCashtagsWithIndices(text), 'cashtag'),
    };
  });
  process.stdout.write(out.map((o) => JSON.stringify(o)).join('\n'));
}
