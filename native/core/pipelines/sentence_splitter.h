// Rule-based sentence splitting for context pruning (issue #6). Pure: no tokenizer, no model.
//
// The sentences always concatenate back to the input: every byte belongs to exactly one sentence,
// and a sentence keeps the whitespace that follows it. Rules (the TypeScript reference in
// test/helpers/pruning-reference.ts implements the same list independently):
//
//  * Line breaks (\n, U+2028, U+2029) end a sentence; the whitespace after them (more line breaks,
//    indentation) joins the sentence they end. Bulleted and numbered lists thus give one sentence per line.
//  * English terminators . ! ? (runs such as "?!" or "..." count as one) followed by optional closing
//    quotes / brackets ( " ' ) ] } ” ’ 」 』 ） 】 ) end a sentence only when whitespace (or the end)
//    follows and the next non-space character is not a lowercase ASCII letter. A single '.' does not end
//    a sentence after an abbreviation (Mr, Dr, Prof, St, vs, ...; see kAbbreviations), a single letter
//    (initials: "J. Smith"), a word with an inner period (e.g., i.e., U.S., Ph.D.), or a number that
//    opens its line ("1. First item"). Decimals (3.14) never split because no whitespace follows.
//  * Japanese ('ja'): also 。 ！ ？ ． , with no whitespace needed; repeated terminators and the
//    closing brackets / quotes that follow (「…。」) stay with the sentence they close.
//  * Whitespace-only stretches never form a sentence of their own: leading whitespace joins the first
//    sentence, trailing whitespace the last.
//  * Language 'auto': 'ja' when hiragana + katakana are more than 10 % of the letters
//    (letters: Latin, Greek, Cyrillic, kana, CJK ideographs, Hangul, full-width Latin), else 'en'.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace winnow::pipelines {

enum class Language { kAuto, kEnglish, kJapanese };

// 'ja' or 'en' by kana share (never returns kAuto).
Language DetectLanguage(std::string_view text);

// Byte ranges [begin, end) into `text` (UTF-8), in order, contiguous, covering the whole text.
// Empty text gives no sentence. kAuto runs DetectLanguage first.
std::vector<std::pair<size_t, size_t>> SplitSentences(std::string_view text, Language language);

}  // namespace winnow::pipelines
