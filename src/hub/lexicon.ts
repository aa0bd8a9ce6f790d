/**
 * Vocabularies the search engine adds to a card's own words, so that a user's words and the card's words
 * meet: ISO 639-1 language codes and their English names, and task ids with their synonyms and acronyms.
 * Expansion happens when a card is indexed (one more field, `facets`), never at query time, so a query
 * keeps one term per word and ranking stays one BM25F sum.
 */

/** ISO 639-1 codes (and `multilingual`) with the English names users type. */
export const LANGUAGE_NAMES: Readonly<Record<string, readonly string[]>> = {
  af: ["afrikaans"],
  am: ["amharic"],
  ar: ["arabic"],
  az: ["azerbaijani"],
  be: ["belarusian"],
  bg: ["bulgarian"],
  bn: ["bengali", "bangla"],
  bs: ["bosnian"],
  ca: ["catalan"],
  cs: ["czech"],
  cy: ["welsh"],
  da: ["danish"],
  de: ["german"],
  el: ["greek"],
  en: ["english"],
  eo: ["esperanto"],
  es: ["spanish", "castilian"],
  et: ["estonian"],
  eu: ["basque"],
  fa: ["persian", "farsi"],
  fi: ["finnish"],
  fr: ["french"],
  ga: ["irish"],
  gl: ["galician"],
  gu: ["gujarati"],
  he: ["hebrew"],
  hi: ["hindi"],
  hr: ["croatian"],
  hu: ["hungarian"],
  hy: ["armenian"],
  id: ["indonesian"],
  is: ["icelandic"],
  it: ["italian"],
  ja: ["japanese"],
  ka: ["georgian"],
  kk: ["kazakh"],
  km: ["khmer"],
  kn: ["kannada"],
  ko: ["korean"],
  ky: ["kyrgyz"],
  la: ["latin"],
  lg: ["luganda", "ganda"],
  ln: ["lingala"],
  lt: ["lithuanian"],
  lv: ["latvian"],
  mk: ["macedonian"],
  ml: ["malayalam"],
  mn: ["mongolian"],
  mr: ["marathi"],
  ms: ["malay"],
  mt: ["maltese"],
  my: ["burmese"],
  nb: ["norwegian", "bokmal"],
  ne: ["nepali"],
  nl: ["dutch"],
  nn: ["norwegian", "nynorsk"],
  no: ["norwegian"],
  pa: ["punjabi"],
  pl: ["polish"],
  ps: ["pashto"],
  pt: ["portuguese"],
  ro: ["romanian"],
  ru: ["russian"],
  sk: ["slovak"],
  sl: ["slovenian"],
  sq: ["albanian"],
  sr: ["serbian"],
  sv: ["swedish"],
  sw: ["swahili"],
  ta: ["tamil"],
  te: ["telugu"],
  th: ["thai"],
  tl: ["tagalog", "filipino"],
  tr: ["turkish"],
  uk: ["ukrainian"],
  ur: ["urdu"],
  uz: ["uzbek"],
  vi: ["vietnamese"],
  xh: ["xhosa"],
  yo: ["yoruba"],
  zh: ["chinese", "mandarin"],
  zu: ["zulu"],
  multilingual: ["multilingual"],
};

/** ISO 639-2/3 codes that Helsinki-NLP and others use in names (`fin-eng`), mapped to ISO 639-1. */
const ALPHA3: Readonly<Record<string, string>> = {
  ara: "ar",
  deu: "de",
  ger: "de",
  eng: "en",
  fin: "fi",
  fra: "fr",
  fre: "fr",
  spa: "es",
  rus: "ru",
  zho: "zh",
  chi: "zh",
  jpn: "ja",
  kor: "ko",
  ita: "it",
  por: "pt",
  nld: "nl",
  dut: "nl",
  swe: "sv",
  pol: "pl",
  tur: "tr",
  hin: "hi",
  ukr: "uk",
  ces: "cs",
  cze: "cs",
  ell: "el",
  gre: "el",
  heb: "he",
  hun: "hu",
  vie: "vi",
  tha: "th",
};

const NAME_TO_CODE = new Map<string, string>();
for (const [code, names] of Object.entries(LANGUAGE_NAMES))
  for (const n of names) if (!NAME_TO_CODE.has(n)) NAME_TO_CODE.set(n, code);

/**
 * The ISO 639-1 code of a language given as a code (`fi`, `fin`, `fi-FI`) or an English name (`Finnish`).
 * @example languageCode("Finnish") // "fi"; languageCode("fin") // "fi"; languageCode("xx") // undefined
 */
export function languageCode(value: string): string | undefined {
  const v = value.trim().toLowerCase();
  const base = v.split(/[-_]/)[0] ?? v;
  if (LANGUAGE_NAMES[base] !== undefined) return base;
  return ALPHA3[base] ?? NAME_TO_CODE.get(v);
}

/** Words indexed for a language: its code and names (`fi` → `fi finnish`). */
export function languageWords(code: string): string[] {
  return [code, ...(LANGUAGE_NAMES[code] ?? [])];
}

/**
 * Language pairs written into model names, as translation models do (`opus-mt-fi-en`, `fin-eng`, `en_de`):
 * two adjacent parts that are both language codes. Single parts are not taken (`it`, `no` and `is` are words).
 * @example languagePairsInName("Helsinki-NLP/opus-mt-fi-en") // ["fi", "en"]
 */
export function languagePairsInName(name: string): string[] {
  const parts = name
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((p) => p !== "");
  const found = new Set<string>();
  for (let i = 0; i + 1 < parts.length; i++) {
    const a = pairCode(parts[i] ?? "");
    const b = pairCode(parts[i + 1] ?? "");
    if (a !== undefined && b !== undefined && a !== b) {
      found.add(a);
      found.add(b);
    }
  }
  return [...found];
}

function pairCode(part: string): string | undefined {
  if (part.length === 2 && LANGUAGE_NAMES[part] !== undefined) return part;
  return part.length === 3 ? ALPHA3[part] : undefined;
}

/**
 * Task ids (Hugging Face pipeline tags) with the words and acronyms people search for them by.
 * A tag or dataset word that is an alias also marks the card with the task's words (`ner` → token classification).
 */
export const TASK_SYNONYMS: Readonly<Record<string, readonly string[]>> = {
  "text-classification": ["text classification", "sequence classification", "classifier"],
  "token-classification": [
    "token classification",
    "ner",
    "named entity recognition",
    "entity extraction",
    "pos tagging",
  ],
  "question-answering": ["question answering", "qa", "extractive qa", "reading comprehension", "squad"],
  "zero-shot-classification": [
    "zero shot classification",
    "nli",
    "natural language inference",
    "entailment",
    "mnli",
    "xnli",
  ],
  translation: ["translation", "machine translation", "mt", "nmt", "translate"],
  summarization: ["summarization", "summarisation", "summary", "summarize", "summarise", "abstractive"],
  "text-generation": ["text generation", "causal lm", "language model", "llm", "gpt"],
  "text2text-generation": ["text to text generation", "seq2seq"],
  "fill-mask": ["fill mask", "masked language model", "mlm"],
  "sentence-similarity": ["sentence similarity", "sentence embeddings", "semantic search", "embedding"],
  "feature-extraction": ["feature extraction", "embeddings", "embedding"],
  "automatic-speech-recognition": [
    "automatic speech recognition",
    "asr",
    "speech recognition",
    "speech to text",
    "stt",
    "transcription",
  ],
  "text-to-speech": ["text to speech", "tts", "speech synthesis", "voice"],
  "audio-classification": ["audio classification"],
  "image-classification": ["image classification", "image classifier"],
  "object-detection": ["object detection", "detector", "bounding boxes"],
  "image-segmentation": ["image segmentation", "segmentation"],
  "image-to-text": ["image to text", "ocr", "captioning"],
  "text-to-image": ["text to image", "image generation", "diffusion"],
  "tabular-classification": ["tabular classification", "tabular"],
  "tabular-regression": ["tabular regression", "tabular"],
  "reinforcement-learning": ["reinforcement learning", "rl"],
};

/** Words (single tokens) that name a task, for cards that give none: a tag `ner`, `causal-lm`, `asr`... */
const TASK_ALIASES: Readonly<Record<string, string>> = {
  ner: "token-classification",
  "named-entity-recognition": "token-classification",
  pos: "token-classification",
  qa: "question-answering",
  squad: "question-answering",
  "extractive-qa": "question-answering",
  nli: "zero-shot-classification",
  "natural-language-inference": "zero-shot-classification",
  mt: "translation",
  nmt: "translation",
  "machine-translation": "translation",
  "causal-lm": "text-generation",
  "text-generation-inference": "text-generation",
  llm: "text-generation",
  asr: "automatic-speech-recognition",
  "speech-recognition": "automatic-speech-recognition",
  tts: "text-to-speech",
  "speech-synthesis": "text-to-speech",
  "sentiment-analysis": "text-classification",
  "sentence-transformers": "sentence-similarity",
  "stable-diffusion": "text-to-image",
  "deep-reinforcement-learning": "reinforcement-learning",
};

/**
 * A task id named by a card's tag, if any (`translation`, `ner`, `causal-lm`).
 * @example taskOfTag("NER") // "token-classification"
 */
export function taskOfTag(tag: string): string | undefined {
  const t = tag
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, "-");
  if (TASK_SYNONYMS[t] !== undefined) return t;
  return TASK_ALIASES[t];
}

/** Words indexed for a task: its id's words, synonyms and acronyms. */
export function taskWords(task: string): string[] {
  return [task.replace(/-/g, " "), ...(TASK_SYNONYMS[task] ?? [])];
}
