import type { CardAttributes } from "./corpus";

/**
 * A query and how relevant each kind of model is to it. Grades come from the card's hidden topic (and
 * facet), never from its text or from any ranking function: 3 = exactly what was asked, 2 = closely
 * related, 1 = marginally related, 0 = unrelated.
 */
export interface QuerySpec {
  q: string;
  grades: Record<string, number>;
  /** If set, a card whose facet differs loses `penalty` grades (it answers the task, not the specifics). */
  facet?: { name: string; value: string; penalty: number };
}

const lang = (value: string, penalty = 2) => ({ name: "language", value, penalty });
const asset = (value: string, penalty = 1) => ({ name: "asset", value, penalty });

export const QUERY_SPECS: QuerySpec[] = [
  { q: "sentiment analysis", grades: { sentiment: 3, "fin-sentiment": 2 } },
  { q: "financial sentiment", grades: { "fin-sentiment": 3, sentiment: 1 } },
  { q: "opinion mining reviews", grades: { sentiment: 3, "fin-sentiment": 1 } },
  { q: "german sentiment", grades: { sentiment: 3, "fin-sentiment": 1 }, facet: lang("de") },
  { q: "named entity recognition", grades: { ner: 3, "clinical-nlp": 2 } },
  { q: "entity extraction", grades: { ner: 3, "clinical-nlp": 2 } },
  { q: "french ner", grades: { ner: 3, "clinical-nlp": 1 }, facet: lang("fr") },
  { q: "machine translation", grades: { translation: 3 } },
  { q: "translate chinese", grades: { translation: 3 }, facet: lang("zh") },
  { q: "summarization", grades: { summarization: 3 } },
  { q: "summarize long documents", grades: { summarization: 3 } },
  { q: "question answering", grades: { qa: 3 } },
  { q: "reading comprehension", grades: { qa: 3 } },
  { q: "toxic comment classification", grades: { toxicity: 3 } },
  { q: "hate speech detection", grades: { toxicity: 3 } },
  { q: "content moderation", grades: { toxicity: 3 } },
  { q: "speech recognition", grades: { asr: 3, "speaker-id": 1 } },
  { q: "speech to text", grades: { asr: 3, tts: 1 } },
  { q: "transcription spanish", grades: { asr: 3 }, facet: lang("es") },
  { q: "german speech recognition", grades: { asr: 3 }, facet: lang("de") },
  { q: "text to speech", grades: { tts: 3, asr: 1 } },
  { q: "voice synthesis", grades: { tts: 3 } },
  { q: "speaker verification", grades: { "speaker-id": 3 } },
  { q: "image classification", grades: { "image-classification": 3, "chest-xray": 2 } },
  { q: "imagenet classifier", grades: { "image-classification": 3 } },
  { q: "object detection", grades: { "object-detection": 3 } },
  { q: "yolo", grades: { "object-detection": 3 } },
  { q: "bounding box detector", grades: { "object-detection": 3 } },
  { q: "semantic segmentation", grades: { segmentation: 3, "medical-segmentation": 2 } },
  { q: "ocr invoices", grades: { ocr: 3 } },
  { q: "document text recognition", grades: { ocr: 3 } },
  { q: "chest x-ray", grades: { "chest-xray": 3, "medical-segmentation": 1 } },
  { q: "pneumonia detection", grades: { "chest-xray": 3 } },
  { q: "medical imaging", grades: { "chest-xray": 3, "medical-segmentation": 3, "clinical-nlp": 1, readmission: 1 } },
  {
    q: "brain tumor segmentation mri",
    grades: { "medical-segmentation": 3 },
    facet: { name: "modality", value: "mri", penalty: 1 },
  },
  { q: "clinical notes", grades: { "clinical-nlp": 3, readmission: 1 } },
  { q: "biomedical ner", grades: { "clinical-nlp": 3, ner: 2 } },
  { q: "hospital readmission", grades: { readmission: 3 } },
  { q: "patient risk prediction", grades: { readmission: 3 } },
  { q: "credit risk", grades: { "credit-risk": 3, fraud: 1, aml: 1 } },
  { q: "credit scoring", grades: { "credit-risk": 3 } },
  { q: "probability of default", grades: { "credit-risk": 3 } },
  { q: "loan default xgboost", grades: { "credit-risk": 3 } },
  { q: "fraud detection", grades: { fraud: 3, aml: 2 } },
  { q: "payment fraud", grades: { fraud: 3, aml: 1 } },
  { q: "anti money laundering", grades: { aml: 3, fraud: 1 } },
  { q: "trading signals", grades: { "trading-signals": 3, volatility: 1 } },
  { q: "crypto trading", grades: { "trading-signals": 3, volatility: 1 }, facet: asset("crypto", 2) },
  { q: "alpha signals equities", grades: { "trading-signals": 3 }, facet: asset("equities") },
  { q: "volatility forecasting", grades: { volatility: 3, "trading-signals": 1 } },
  { q: "value at risk", grades: { volatility: 3, "credit-risk": 1 } },
  { q: "market risk", grades: { volatility: 3 } },
  { q: "demand forecasting", grades: { "demand-forecast": 3 } },
  { q: "sales forecast retail", grades: { "demand-forecast": 3 } },
  { q: "time series forecasting", grades: { "demand-forecast": 3, "trading-signals": 2, volatility: 2 } },
  { q: "customer churn", grades: { churn: 3 } },
  { q: "house price prediction", grades: { "house-price": 3 } },
  { q: "real estate valuation", grades: { "house-price": 3 } },
  { q: "chat assistant", grades: { "chat-llm": 3, "code-gen": 1 } },
  { q: "instruction tuned llm", grades: { "chat-llm": 3, "code-gen": 2 } },
  { q: "sentence embeddings", grades: { embeddings: 3 } },
  { q: "semantic search", grades: { embeddings: 3 } },
  { q: "code completion", grades: { "code-gen": 3 } },
  { q: "predictive maintenance", grades: { "predictive-maintenance": 3 } },
  { q: "anomaly detection sensors", grades: { "predictive-maintenance": 3, fraud: 1 } },
  {
    q: "finance",
    grades: { "fin-sentiment": 3, "credit-risk": 3, fraud: 3, aml: 3, "trading-signals": 2, volatility: 2 },
  },
  {
    q: "tabular classification",
    grades: { "credit-risk": 3, fraud: 3, aml: 3, churn: 3, readmission: 3, "house-price": 1 },
  },
  { q: "sentimnet analysis", grades: { sentiment: 3, "fin-sentiment": 2 } },
  { q: "objcet detection", grades: { "object-detection": 3 } },
  { q: "speech recog", grades: { asr: 3, "speaker-id": 1 } },
  { q: "fraud detec", grades: { fraud: 3, aml: 2 } },
  { q: "volatilty", grades: { volatility: 3 } },
  { q: "summarisation", grades: { summarization: 3 } },
];

/**
 * The grade of a card for a query, from the card's hidden attributes only.
 * @example judge(QUERY_SPECS[0], { topic: "sentiment", ... }) // 3
 */
export function judge(spec: QuerySpec, attributes: CardAttributes): number {
  const base = spec.grades[attributes.topic] ?? 0;
  if (base === 0 || spec.facet === undefined || attributes.facet?.name !== spec.facet.name) return base;
  return attributes.facet.value === spec.facet.value ? base : Math.max(1, base - spec.facet.penalty);
}
