/**
 * The latent ground truth of the synthetic corpus: each archetype is a kind of model (a topic) with the
 * vocabulary real cards of that kind use. Relevance judgments are computed from these attributes only.
 */

/** A kind of model. */
export interface Archetype {
  /** Ground-truth topic id, never shown verbatim to the search engine. */
  topic: string;
  domain: "nlp" | "speech" | "vision" | "medical" | "finance" | "trading" | "tabular";
  task: string;
  /** Name stems, some descriptive, many opaque (as real model ids are). */
  stems: string[];
  /** Groups of synonymous tags; a card picks from some groups. */
  tags: string[][];
  /** Sentences for the description, with synonyms spread across them. */
  phrases: string[];
  libraries: string[];
  bases: string[];
  datasets: string[];
  /** Optional facet values (language, asset class, imaging modality) a card draws one of. */
  facet?: { name: "language" | "asset" | "modality"; values: string[] };
}

const LANGS = ["en", "de", "fr", "es", "zh", "ar", "multilingual"];

export const ARCHETYPES: Archetype[] = [
  {
    topic: "sentiment", domain: "nlp", task: "text-classification",
    stems: ["distilbert-sst2", "roberta-polarity", "twitter-xlmr", "reviewbert", "senti-electra", "opinion-deberta", "tone-minilm"],
    tags: [["sentiment", "sentiment-analysis"], ["opinion-mining"], ["reviews", "product-reviews"], ["polarity"], ["social-media", "tweets"]],
    phrases: ["Classifies the sentiment of short texts as positive, negative or neutral.", "Opinion mining for product reviews and customer feedback.", "Detects the emotional tone and polarity of tweets.", "Fine-tuned for sentiment analysis on movie and app-store reviews."],
    libraries: ["transformers", "onnx"], bases: ["distilbert-base-uncased", "roberta-base", "xlm-roberta-base", "microsoft/deberta-v3-small"],
    datasets: ["sst2", "imdb", "amazon_polarity", "tweet_eval", "yelp_review_full"], facet: { name: "language", values: LANGS },
  },
  {
    topic: "fin-sentiment", domain: "finance", task: "text-classification",
    stems: ["finbert-tone", "fin-roberta", "earnings-tone", "newsalpha-bert", "fomc-hawk", "marketmood"],
    tags: [["finance", "financial"], ["sentiment", "financial-sentiment"], ["earnings-calls", "analyst-reports"], ["news", "financial-news"], ["esg"]],
    phrases: ["Scores the sentiment of financial news headlines and analyst reports.", "Classifies earnings-call transcripts as bullish, bearish or neutral.", "Hawkish versus dovish tone detection for central bank statements.", "Trained on financial phrasebank for market sentiment."],
    libraries: ["transformers", "onnx"], bases: ["ProsusAI/finbert", "yiyanghkust/finbert-tone", "roberta-base"],
    datasets: ["financial_phrasebank", "fiqa", "twitter-financial-news-sentiment"],
  },
  {
    topic: "ner", domain: "nlp", task: "token-classification",
    stems: ["bert-ner", "xlmr-entities", "spacy-trf-ents", "flair-ner", "deid-tagger", "wikiner-electra"],
    tags: [["ner", "named-entity-recognition"], ["entity-extraction", "information-extraction"], ["token-classification"], ["pii"]],
    phrases: ["Extracts named entities such as persons, organisations and locations.", "Token classification for entity recognition in news text.", "Information extraction: tags people, places and companies.", "Detects personally identifiable information for redaction."],
    libraries: ["transformers", "spacy", "flair"], bases: ["bert-base-cased", "xlm-roberta-large", "dslim/bert-base-NER"],
    datasets: ["conll2003", "wikiann", "ontonotes5"], facet: { name: "language", values: LANGS },
  },
  {
    topic: "translation", domain: "nlp", task: "translation",
    stems: ["opus-mt", "marian-nmt", "nllb-distilled", "m2m-small", "t5-translate", "babel-mt"],
    tags: [["translation", "machine-translation"], ["nmt"], ["seq2seq"], ["multilingual"]],
    phrases: ["Neural machine translation between European languages.", "Translates documents while preserving formatting.", "A compact seq2seq translator distilled from a larger multilingual model.", "Machine translation for low-resource language pairs."],
    libraries: ["transformers", "ctranslate2", "onnx"], bases: ["Helsinki-NLP/opus-mt-en-de", "facebook/nllb-200-distilled-600M", "t5-base"],
    datasets: ["opus100", "wmt19", "flores200"], facet: { name: "language", values: ["de", "fr", "es", "zh", "ar"] },
  },
  {
    topic: "summarization", domain: "nlp", task: "summarization",
    stems: ["bart-cnn", "pegasus-xsum", "t5-summ", "longformer-digest", "led-arxiv", "tldr-flan"],
    tags: [["summarization", "summarisation"], ["abstractive"], ["news"], ["long-documents"]],
    phrases: ["Abstractive summarization of news articles.", "Condenses long reports into a short digest.", "Generates TL;DR summaries of scientific papers.", "Produces concise abstracts of meeting transcripts."],
    libraries: ["transformers"], bases: ["facebook/bart-large-cnn", "google/pegasus-xsum", "google/flan-t5-base"],
    datasets: ["cnn_dailymail", "xsum", "arxiv_summarization"], facet: { name: "language", values: ["en", "de", "fr"] },
  },
  {
    topic: "qa", domain: "nlp", task: "question-answering",
    stems: ["roberta-squad2", "deberta-qa", "minilm-reader", "electra-squad", "docreader"],
    tags: [["question-answering", "qa"], ["extractive-qa"], ["reading-comprehension"], ["squad"]],
    phrases: ["Extractive question answering over a context passage.", "Reading comprehension: finds the answer span in a document.", "Answers questions about support articles and manuals."],
    libraries: ["transformers", "onnx"], bases: ["deepset/roberta-base-squad2", "microsoft/deberta-v3-base"],
    datasets: ["squad_v2", "natural_questions", "adversarial_qa"], facet: { name: "language", values: ["en", "de", "es", "multilingual"] },
  },
  {
    topic: "toxicity", domain: "nlp", task: "text-classification",
    stems: ["toxic-bert", "detoxify", "hatexplain", "moderation-minilm", "safety-clf", "civil-roberta"],
    tags: [["toxicity", "toxic-comment"], ["hate-speech"], ["content-moderation", "moderation"], ["safety"]],
    phrases: ["Flags toxic, abusive or hateful comments.", "Content moderation classifier for user-generated posts.", "Detects hate speech and harassment in online discussions.", "Scores offensive language for trust and safety teams."],
    libraries: ["transformers", "onnx"], bases: ["unitary/toxic-bert", "roberta-base"],
    datasets: ["civil_comments", "jigsaw_toxicity_pred", "hatexplain"], facet: { name: "language", values: ["en", "de", "multilingual"] },
  },
  {
    topic: "asr", domain: "speech", task: "automatic-speech-recognition",
    stems: ["whisper-small", "wav2vec2-large", "conformer-ctc", "kaldi-tdnn", "parakeet", "vosk"],
    tags: [["asr", "speech-recognition"], ["speech-to-text", "transcription"], ["audio"], ["whisper", "wav2vec2"]],
    phrases: ["Transcribes spoken audio into text.", "Speech-to-text for call-centre recordings and podcasts.", "Automatic transcription with word-level timestamps.", "Robust to accents and background noise."],
    libraries: ["transformers", "nemo", "onnx"], bases: ["openai/whisper-small", "facebook/wav2vec2-large-960h"],
    datasets: ["common_voice", "librispeech_asr", "voxpopuli"], facet: { name: "language", values: LANGS },
  },
  {
    topic: "tts", domain: "speech", task: "text-to-speech",
    stems: ["vits-ljs", "fastspeech2", "tacotron2", "piper-voice", "bark-lite", "coqui-xtts"],
    tags: [["tts", "text-to-speech"], ["speech-synthesis", "voice"], ["vocoder"], ["audio"]],
    phrases: ["Synthesises natural-sounding speech from text.", "Neural voice generation with a HiFi-GAN vocoder.", "Text-to-speech for screen readers and assistants."],
    libraries: ["espnet", "coqui", "onnx"], bases: ["facebook/mms-tts", "espnet/kan-bayashi_ljspeech_vits"],
    datasets: ["ljspeech", "vctk", "libritts"], facet: { name: "language", values: ["en", "de", "fr", "es"] },
  },
  {
    topic: "speaker-id", domain: "speech", task: "audio-classification",
    stems: ["ecapa-voxceleb", "xvector", "titanet", "speakernet"],
    tags: [["speaker-verification", "speaker-recognition"], ["speaker-identification"], ["biometrics", "voice-biometrics"], ["audio"]],
    phrases: ["Verifies whether two recordings come from the same speaker.", "Voice biometrics: speaker embeddings for identification.", "Speaker recognition for authentication flows."],
    libraries: ["speechbrain", "nemo"], bases: ["speechbrain/spkrec-ecapa-voxceleb"], datasets: ["voxceleb1", "voxceleb2"],
  },
  {
    topic: "image-classification", domain: "vision", task: "image-classification",
    stems: ["resnet50", "vit-base", "convnext-tiny", "efficientnet-b3", "deit-small", "mobilenetv3"],
    tags: [["image-classification"], ["vision", "computer-vision"], ["imagenet"], ["cnn", "vision-transformer"]],
    phrases: ["Classifies images into the 1000 ImageNet categories.", "A general-purpose image classifier for photos.", "Recognises everyday objects, animals and scenes in pictures.", "Lightweight classifier suitable for mobile devices."],
    libraries: ["timm", "transformers", "onnx"], bases: ["google/vit-base-patch16-224", "microsoft/resnet-50", "facebook/convnext-tiny-224"],
    datasets: ["imagenet-1k", "cifar100", "food101"],
  },
  {
    topic: "object-detection", domain: "vision", task: "object-detection",
    stems: ["yolov8n", "detr-resnet50", "rtdetr", "faster-rcnn", "ssd-mobilenet", "dino-det"],
    tags: [["object-detection"], ["bounding-boxes"], ["yolo", "detr"], ["vision", "computer-vision"], ["coco"]],
    phrases: ["Detects and localises objects with bounding boxes.", "Real-time detector for people, vehicles and traffic signs.", "Finds objects in images and returns boxes with class scores.", "Trained on COCO for general object localisation."],
    libraries: ["ultralytics", "transformers", "onnx"], bases: ["facebook/detr-resnet-50", "ultralytics/yolov8n"],
    datasets: ["coco", "open_images", "bdd100k"],
  },
  {
    topic: "segmentation", domain: "vision", task: "image-segmentation",
    stems: ["segformer-b2", "mask2former", "deeplabv3", "unet-cityscapes", "sam-lite"],
    tags: [["image-segmentation", "semantic-segmentation"], ["panoptic"], ["vision", "computer-vision"], ["masks"]],
    phrases: ["Pixel-wise semantic segmentation of street scenes.", "Predicts a mask for every object in an image.", "Panoptic segmentation for autonomous driving datasets."],
    libraries: ["transformers", "onnx"], bases: ["nvidia/segformer-b2-finetuned-ade-512-512", "facebook/mask2former-swin-tiny"],
    datasets: ["ade20k", "cityscapes", "coco_panoptic"],
  },
  {
    topic: "ocr", domain: "vision", task: "image-to-text",
    stems: ["trocr-printed", "donut-receipts", "paddle-ocr", "layoutlm-invoice", "tesseract-lstm"],
    tags: [["ocr", "optical-character-recognition"], ["document-ai", "documents"], ["text-recognition"], ["invoices", "receipts"]],
    phrases: ["Reads printed and handwritten text from scanned documents.", "Optical character recognition for invoices and receipts.", "Extracts text lines from photographed documents."],
    libraries: ["transformers", "paddle", "onnx"], bases: ["microsoft/trocr-base-printed", "naver-clova-ix/donut-base"],
    datasets: ["funsd", "sroie", "iam"],
  },
  {
    topic: "chest-xray", domain: "medical", task: "image-classification",
    stems: ["chexnet", "cxr-densenet", "radnet-thorax", "pneumo-vit", "lungscan"],
    tags: [["medical", "healthcare"], ["radiology", "medical-imaging"], ["chest-x-ray", "cxr"], ["pneumonia"]],
    phrases: ["Detects pneumonia and other findings on chest radiographs.", "Classifies thoracic pathologies in frontal chest X-rays.", "Triage support for radiologists reading CXR studies."],
    libraries: ["timm", "monai", "onnx"], bases: ["densenet121", "google/vit-base-patch16-224"],
    datasets: ["chexpert", "nih-chest-xray14", "mimic-cxr"], facet: { name: "modality", values: ["xray"] },
  },
  {
    topic: "medical-segmentation", domain: "medical", task: "image-segmentation",
    stems: ["nnunet-brats", "monai-swinunetr", "totalseg", "liver-unet", "medsam"],
    tags: [["medical", "healthcare"], ["medical-imaging", "radiology"], ["tumor-segmentation", "organ-segmentation"], ["mri", "ct"]],
    phrases: ["Segments brain tumours in multi-sequence MRI.", "Delineates organs at risk in abdominal CT scans.", "3D volumetric segmentation for radiotherapy planning."],
    libraries: ["monai", "onnx"], bases: ["MONAI/swin_unetr", "nnunet"], datasets: ["brats2021", "totalsegmentator", "lits"],
    facet: { name: "modality", values: ["mri", "ct"] },
  },
  {
    topic: "clinical-nlp", domain: "medical", task: "token-classification",
    stems: ["clinicalbert", "biobert-ner", "pubmedbert-chem", "medcat", "icd-coder"],
    tags: [["medical", "clinical"], ["biomedical", "healthcare"], ["clinical-notes", "ehr"], ["ner", "icd-coding"]],
    phrases: ["Extracts diagnoses, medications and procedures from clinical notes.", "Biomedical entity recognition for electronic health records.", "Assigns ICD-10 codes to discharge summaries."],
    libraries: ["transformers", "spacy"], bases: ["emilyalsentzer/Bio_ClinicalBERT", "dmis-lab/biobert-v1.1"],
    datasets: ["mimic-iii", "n2c2", "bc5cdr"],
  },
  {
    topic: "readmission", domain: "medical", task: "tabular-classification",
    stems: ["readmit-xgb", "hospital-lgbm", "careflow", "los-predictor", "sepsis-watch"],
    tags: [["medical", "healthcare"], ["readmission", "patient-risk"], ["ehr", "clinical"], ["tabular"]],
    phrases: ["Predicts 30-day hospital readmission risk from EHR features.", "Early warning score for patient deterioration and sepsis.", "Estimates length of stay from admission data."],
    libraries: ["xgboost", "lightgbm", "sklearn"], bases: [], datasets: ["mimic-iv", "eicu"],
  },
  {
    topic: "credit-risk", domain: "finance", task: "tabular-classification",
    stems: ["pd-scorecard", "xgb-default", "lendingclub-gbm", "loan-pd", "basel-irb", "creditwise"],
    tags: [["credit-risk", "credit-scoring"], ["probability-of-default", "pd-model"], ["finance", "lending", "banking"], ["scorecard"], ["tabular"]],
    phrases: ["Estimates the probability of default of retail loans.", "Credit scoring model for consumer lending decisions.", "Scorecard for creditworthiness of small-business borrowers.", "IRB-compliant PD model for Basel capital calculation."],
    libraries: ["xgboost", "lightgbm", "sklearn"], bases: [], datasets: ["lending-club", "home-credit-default-risk", "german-credit"],
  },
  {
    topic: "fraud", domain: "finance", task: "tabular-classification",
    stems: ["txn-guard", "card-fraud-lgbm", "fraudnet", "ieee-cis-xgb", "chargeback-gbm", "sentinel-pay"],
    tags: [["fraud-detection", "fraud"], ["payments", "transactions"], ["anomaly-detection"], ["finance", "banking"], ["tabular"]],
    phrases: ["Flags fraudulent card transactions in real time.", "Payment fraud detection for e-commerce checkouts.", "Scores chargeback risk from transaction features.", "Detects account takeover and suspicious payments."],
    libraries: ["xgboost", "lightgbm", "sklearn", "onnx"], bases: [], datasets: ["ieee-fraud-detection", "creditcardfraud", "paysim"],
  },
  {
    topic: "aml", domain: "finance", task: "tabular-classification",
    stems: ["aml-graph", "launder-gnn", "kyc-screen", "sar-triage", "elliptic-gcn"],
    tags: [["aml", "anti-money-laundering"], ["compliance", "kyc"], ["finance", "banking"], ["graph"]],
    phrases: ["Detects money laundering patterns in transaction graphs.", "Anti-money-laundering alert triage for compliance teams.", "Flags suspicious activity for SAR filing."],
    libraries: ["pytorch-geometric", "xgboost", "sklearn"], bases: [], datasets: ["elliptic", "ibm-aml"],
  },
  {
    topic: "trading-signals", domain: "trading", task: "time-series-forecasting",
    stems: ["alpha-lstm", "momentum-tft", "quant-signal", "orderflow-tcn", "mean-revert", "deep-alpha"],
    tags: [["trading", "algorithmic-trading"], ["alpha", "trading-signals"], ["quant", "quantitative-finance"], ["time-series"], ["momentum", "mean-reversion"]],
    phrases: ["Generates buy and sell signals from price and volume history.", "Predicts next-day returns for a long-short equity strategy.", "Short-horizon alpha from limit order book features.", "Momentum and mean-reversion signals for systematic trading."],
    libraries: ["pytorch", "lightgbm", "onnx"], bases: [], datasets: ["crsp-daily", "binance-ohlcv", "lobster"],
    facet: { name: "asset", values: ["equities", "crypto", "fx", "futures"] },
  },
  {
    topic: "volatility", domain: "trading", task: "time-series-forecasting",
    stems: ["garch-net", "vol-surface", "rv-forecaster", "var-estimator", "deepvol"],
    tags: [["volatility", "volatility-forecasting"], ["market-risk", "value-at-risk"], ["quant", "risk"], ["time-series"]],
    phrases: ["Forecasts realised volatility for risk management.", "Estimates value at risk and expected shortfall of portfolios.", "Implied volatility surface fitting for options desks."],
    libraries: ["pytorch", "statsmodels", "onnx"], bases: [], datasets: ["oxford-man-realized", "optionmetrics"],
    facet: { name: "asset", values: ["equities", "crypto", "fx"] },
  },
  {
    topic: "demand-forecast", domain: "tabular", task: "time-series-forecasting",
    stems: ["deepar-retail", "prophet-sales", "nbeats-demand", "m5-lgbm", "chronos-small"],
    tags: [["forecasting", "demand-forecasting"], ["time-series"], ["retail", "supply-chain"], ["sales"]],
    phrases: ["Forecasts weekly product demand for retail stores.", "Sales forecasting with holiday and promotion effects.", "Probabilistic forecasts for inventory planning."],
    libraries: ["gluonts", "lightgbm", "prophet"], bases: ["amazon/chronos-t5-small"], datasets: ["m5", "favorita", "electricity"],
  },
  {
    topic: "churn", domain: "tabular", task: "tabular-classification",
    stems: ["churn-xgb", "retention-gbm", "telco-churn", "subscriber-risk", "attrition-lr"],
    tags: [["churn", "churn-prediction"], ["customer-retention", "retention"], ["marketing", "crm"], ["tabular"]],
    phrases: ["Predicts which customers are likely to cancel their subscription.", "Customer attrition scoring for retention campaigns.", "Identifies at-risk subscribers for telecom operators."],
    libraries: ["xgboost", "sklearn", "catboost"], bases: [], datasets: ["telco-customer-churn", "kkbox-churn"],
  },
  {
    topic: "house-price", domain: "tabular", task: "tabular-regression",
    stems: ["avm-gbm", "house-price-xgb", "realestate-valuer", "propval", "rent-estimator"],
    tags: [["real-estate", "property"], ["house-prices", "valuation"], ["regression"], ["tabular"]],
    phrases: ["Automated valuation model for residential property.", "Estimates sale prices of houses from listing features.", "Predicts market rents for apartments."],
    libraries: ["xgboost", "catboost", "sklearn"], bases: [], datasets: ["ames-housing", "california-housing", "zillow-prize"],
  },
  {
    topic: "chat-llm", domain: "nlp", task: "text-generation",
    stems: ["llama-chat", "mistral-instruct", "qwen-chat", "phi-mini", "tinyllama", "gemma-it"],
    tags: [["llm", "large-language-model"], ["chat", "conversational"], ["instruct", "instruction-tuned"], ["text-generation"]],
    phrases: ["An instruction-tuned chat assistant.", "Conversational language model for dialogue and reasoning.", "General-purpose LLM quantised for fast inference."],
    libraries: ["transformers", "llama.cpp", "vllm"], bases: ["meta-llama/Llama-3.2-1B", "mistralai/Mistral-7B-v0.3", "Qwen/Qwen2.5-1.5B"],
    datasets: ["ultrachat_200k", "openhermes", "oasst1"], facet: { name: "language", values: ["en", "de", "zh", "multilingual"] },
  },
  {
    topic: "embeddings", domain: "nlp", task: "sentence-similarity",
    stems: ["minilm-l6", "bge-small", "e5-base", "gte-base", "mpnet-embed", "nomic-embed"],
    tags: [["embeddings", "sentence-embeddings"], ["sentence-similarity", "semantic-similarity"], ["semantic-search", "retrieval"], ["sentence-transformers"]],
    phrases: ["Maps sentences to dense vectors for semantic search.", "Text embeddings for retrieval-augmented generation.", "Computes semantic similarity between passages."],
    libraries: ["sentence-transformers", "onnx"], bases: ["sentence-transformers/all-MiniLM-L6-v2", "BAAI/bge-small-en-v1.5"],
    datasets: ["ms_marco", "snli", "natural_questions"], facet: { name: "language", values: ["en", "zh", "multilingual"] },
  },
  {
    topic: "code-gen", domain: "nlp", task: "text-generation",
    stems: ["starcoder-mini", "codegen-350m", "deepseek-coder", "codellama-py", "santacoder"],
    tags: [["code", "code-generation"], ["code-completion", "programming"], ["python", "javascript"], ["llm"]],
    phrases: ["Completes source code in Python, JavaScript and Go.", "Generates functions from natural-language docstrings.", "Code completion model for IDE assistants."],
    libraries: ["transformers", "llama.cpp"], bases: ["bigcode/starcoder2-3b", "Salesforce/codegen-350M-mono"], datasets: ["the-stack", "humaneval", "mbpp"],
  },
  {
    topic: "predictive-maintenance", domain: "tabular", task: "time-series-classification",
    stems: ["turbofan-rul", "vibration-ae", "iot-anomaly", "bearing-fault", "sensor-guard"],
    tags: [["predictive-maintenance", "maintenance"], ["anomaly-detection"], ["iot", "sensors"], ["time-series"]],
    phrases: ["Predicts remaining useful life of turbofan engines.", "Detects anomalies in industrial sensor streams.", "Early fault detection from vibration signals."],
    libraries: ["pytorch", "sklearn", "onnx"], bases: [], datasets: ["cmapss", "cwru-bearing", "skab"],
  },
];

/** Words every card may use whatever its kind: noise that a ranking function must see past. */
export const FILLER = [
  "The model was trained with mixed precision and evaluated on a held-out split.",
  "Results may degrade on data that differs from the training distribution; assess the risk before deployment.",
  "Quantised weights are provided for fast inference on CPU.",
  "Please cite the original authors when using this work.",
  "Outputs should be reviewed by a human for high-stakes decisions.",
  "Evaluation reports accuracy, F1 and calibration metrics.",
];

export const LICENSES = ["apache-2.0", "mit", "cc-by-4.0", "openrail", "llama3", "bsd-3-clause", "cc-by-nc-4.0"];
export const ORGS = ["acme-ai", "northwind", "helix-labs", "quantforge", "medvision", "openvoice", "lumen", "deepcraft", "atlas-ml", "ridge"];
