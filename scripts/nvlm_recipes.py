#!/usr/bin/env python3
"""Writes manifests/recipes/nvlm-pretrain.json and nvlm-sft.json from the
source lists of the NVLM paper (Tables 4 and 6, as listed in
/work/shared/NVLM-DATA.md) and the weight rule of docs/MIXING.md:

* the weights NVIDIA released in examples/multimodal/nvlm/{pretrain,sft}_blend.yaml
  are kept as they are (pretrain: LAION 0.579, COCO 0.02, VQAv2 0.01;
  SFT: COCO 0.01, CLEVR-Math 0.02);
* the rest of a total weight of 1 ("Weights sum up to 1", the released files'
  comment) goes to the other sources in proportion to min(size, CAP), where
  size is an ESTIMATE of the public training-set size in samples (rounded,
  from the dataset's paper or card as remembered; to be replaced by measured
  counts) and CAP bounds large scraped or synthetic sets (pretrain 2M, SFT 100k).

Run: /usr/bin/python3 scripts/nvlm_recipes.py   (also prints the tables for docs/MIXING.md)
"""
import json
import os
import sys

# (name, estimated samples, what the estimate counts), paper order.
PRETRAIN = [
    ("coco_captions_2017", None, "released weight 0.02"),
    ("cc3m", 3_300_000, "~3.3M image-caption pairs (CC3M paper)"),
    ("sbu", 1_000_000, "~1M captioned photos (SBU paper)"),
    ("laion_relaion2b", None, "released weight 0.579 (the paper's LAION-115M, sanitized, is not public: the Re-LAION-2B manifest stands in)"),
    ("vqav2", None, "released weight 0.01"),
    ("visual_genome", 1_700_000, "~1.7M QA pairs (VG paper)"),
    ("dvqa", 2_300_000, "~2.3M train QA pairs (DVQA paper)"),
    ("docmatix", 9_500_000, "~9.5M QA pairs on ~2.4M pages (HF card)"),
    ("ocr_vqa", 800_000, "~800k train QA pairs (OCR-VQA paper, ~1M total)"),
    ("coco_text", 63_000, "~63k images (COCO-Text paper)"),
    ("textocr", 25_000, "~25k train images (TextOCR paper)"),
    ("rects", 20_000, "~20k train images (ICDAR 2019 ReCTS)"),
    ("rrc_art", 5_600, "~5.6k train images (ICDAR 2019 ArT)"),
    ("rrc_lsvt", 30_000, "~30k fully annotated train images (ICDAR 2019 LSVT)"),
    ("rctw", 8_000, "~8k train images (ICDAR 2017 RCTW)"),
    ("synthdog_en", 500_000, "~500k synthetic pages (Donut SynthDoG-en card)"),
    ("pdfa_eng_wds", 18_000_000, "~18M pages (pixparse pdfa-eng-wds card)"),
    ("clevr_math", 600_000, "~600k QA (CLEVR-Math; rough estimate)"),
]
PRETRAIN_RELEASED = {"laion_relaion2b": 0.579, "coco_captions_2017": 0.02, "vqav2": 0.01}

SFT = [
    # captioning
    ("coco_captions_2017", None, "released weight 0.01"),
    ("textcaps", 110_000, "~110k captions (TextCaps paper)"),
    ("sharegpt4o", 57_000, "~57k image conversations (ShareGPT-4o card)"),
    # VQA
    ("vqav2", 440_000, "~440k train QA (VQAv2 paper)"),
    ("visual_genome", 1_700_000, "~1.7M QA (VG paper)"),
    ("tallyqa", 250_000, "~250k train counting QA (TallyQA paper)"),
    ("visual7w", 140_000, "~140k train QA (Visual7W paper)"),
    ("vizwiz", 20_000, "~20k train QA (VizWiz paper)"),
    # knowledge
    ("okvqa", 9_000, "~9k train QA (OK-VQA paper)"),
    ("aokvqa", 17_000, "~17k train QA (A-OKVQA paper)"),
    # reasoning
    ("gqa", 940_000, "~940k balanced train QA (GQA paper)"),
    ("super_clevr", 30_000, "~30k images (Super-CLEVR paper; rough)"),
    ("raven", 42_000, "~42k puzzles (RAVEN; rough)"),
    ("vsr", 7_700, "~7.7k train pairs (VSR paper)"),
    # chart / diagram
    ("dvqa", 2_300_000, "~2.3M train QA (DVQA paper)"),
    ("plotqa", 20_000_000, "~20M QA on ~157k plots (PlotQA paper)"),
    ("mmc_instruction", 410_000, "~410k instructions (MMC paper)"),
    ("chartqa", 28_000, "~28k train QA (ChartQA paper)"),
    ("infographicvqa", 24_000, "~24k train QA (InfographicVQA paper)"),
    ("figureqa", 1_300_000, "~1.3M train QA (FigureQA paper)"),
    ("iconqa", 29_000, "~29k train QA, image-choice part excluded (IconQA; rough)"),
    ("chart2text", 27_000, "~27k charts (Chart-to-Text paper)"),
    ("diagram_image2text", 300, "~300 diagrams (HF card; rough)"),
    # table
    ("wikitablequestions", 14_000, "~14k train QA (WTQ paper)"),
    ("robut", 110_000, "~110k perturbed QA over WTQ, WikiSQL, SQA (RobuT paper; rough)"),
    ("hitab", 7_500, "~7.5k train QA (HiTab paper)"),
    # document
    ("docvqa", 39_000, "~39k train QA (DocVQA paper)"),
    ("docmatix", 9_500_000, "~9.5M QA (HF card)"),
    ("dude", 23_000, "~23k train QA (DUDE paper)"),
    ("visualmrc", 22_000, "~22k train QA (VisualMRC paper)"),
    ("tat_dqa", 13_000, "~13k train QA (TAT-DQA paper)"),
    ("ureader_ie", 30_000, "UReader information extraction part (rough)"),
    ("ureader_kg", 30_000, "UReader knowledge-grounded part (rough)"),
    ("ureader_qa", 100_000, "UReader QA part (rough)"),
    # OCR / screen / scene text
    ("ocr_vqa", 800_000, "~800k train QA (OCR-VQA paper)"),
    ("textvqa", 35_000, "~35k train QA (TextVQA paper)"),
    ("st_vqa", 26_000, "~26k train QA (ST-VQA paper)"),
    ("screenqa", 86_000, "~86k QA (ScreenQA paper)"),
    ("slideqa", 10_000, "~10k train QA (SlideVQA paper; rough)"),
    ("pdf_vqa", 80_000, "PDF-VQA (rough)"),
    ("vqa_cd", 10_000, "VQA-CD (rough)"),
    ("vqaonbd", 40_000, "VQAonBD 2023 (rough)"),
    ("poie", 3_000, "~3k images (POIE paper; rough)"),
    ("sroie", 630, "~630 train receipts (ICDAR 2019 SROIE)"),
    ("orand", 10_000, "ORAND-CAR check amounts (rough)"),
    ("est_vqa", 17_000, "~17k images (EST-VQA paper; rough)"),
    ("funsd", 150, "~150 train forms (FUNSD paper)"),
    ("squad_render", 88_000, "~88k train QA rendered to images (SQuAD v1.1)"),
    ("wordart", 4_800, "~4.8k train crops (WordArt; rough)"),
    ("iam", 6_500, "~6.5k train lines (IAM; rough)"),
    ("iiit5k", 2_000, "~2k train words (IIIT5K paper)"),
    ("hme100k", 74_500, "~74.5k train formulas (HME100K paper)"),
    ("synthdog_en", 500_000, "~500k synthetic pages (SynthDoG-en card)"),
    ("bentham_qa", 400, "Bentham QA (rough)"),
    ("hw_squad", 20_000, "HW-SQuAD (rough)"),
    ("websight", 820_000, "~820k screenshot/HTML pairs (WebSight v0.1 card)"),
    ("chromewriting", 8_800, "~8.8k (rough)"),
    ("k12_printing", 250_000, "K12 Printing (rough)"),
    ("coco_text", 63_000, "~63k images (COCO-Text paper)"),
    ("textocr", 25_000, "~25k train images (TextOCR paper)"),
    ("rects", 20_000, "~20k train images (ReCTS)"),
    ("pdfa_eng_wds", 18_000_000, "~18M pages (pdfa-eng-wds card)"),
    # math
    ("clevr_math", None, "released weight 0.02"),
    ("geoqa_plus", 12_000, "~12k problems (GeoQA+ paper)"),
    ("geometry3k", 2_100, "~2.1k train problems (Geometry3K paper)"),
    ("tabmwp", 23_000, "~23k train problems (TabMWP paper)"),
    ("gsm8k_render", 7_473, "7,473 train problems (GSM8K), rendered to images (derived from the gsm8k text manifest)"),
    ("metamathqa_render", 395_000, "~395k (MetaMathQA card), rendered to images"),
    ("mavis", 830_000, "~830k instructions (MAVIS-Instruct paper; rough)"),
    ("geo170k", 170_000, "~170k (G-LLaVA Geo170K)"),
    ("geomverse", 9_300, "~9.3k (GeomVerse; rough)"),
    ("geos", 200, "~200 problems (GEOS paper)"),
    ("unigeo", 14_500, "~14.5k problems (UniGeo paper)"),
    # science
    ("ai2d", 12_000, "~12k QA on ~4.9k diagrams (AI2D paper)"),
    ("scienceqa", 6_200, "~6.2k train questions with images (ScienceQA paper)"),
    ("tqa", 26_000, "~26k QA (TQA paper; rough)"),
    ("arxivqa", 100_000, "~100k QA (ArxivQA paper)"),
    ("textbooks", 50_000, "textbook figures (unspecified in the paper; placeholder estimate)"),
    # instruction
    ("lrv_instruction", 400_000, "~400k instructions (LRV-Instruction paper)"),
    ("coco_instruct_150k", 158_000, "158k LLaVA-Instruct-150K conversations on COCO images (card)"),
    ("llavar", 16_000, "~16k high-quality instructions (LLaVAR paper)"),
    # text-only SFT
    ("slimorca", 518_000, "~518k (SlimOrca card)"),
    ("sharegpt", 90_000, "~90k conversations (ShareGPT dumps; rough)"),
    ("evolinstruct", 143_000, "~143k (WizardLM Evol-Instruct V2; rough)"),
    ("gpteacher", 89_000, "~89k (GPTeacher; rough)"),
    ("alpaca_gpt4", 52_000, "52k (Alpaca-GPT4 card)"),
    ("ultrainteract", 289_000, "~289k SFT pairs (UltraInteract_sft card)"),
    ("orca_math", 200_000, "200k (Orca-Math word problems card)"),
    ("mathinstruct", 262_000, "~262k (MathInstruct card)"),
    ("metamath", 395_000, "~395k (MetaMathQA card)"),
    ("glaive_code", 140_000, "~140k (Glaive code assistant; rough)"),
    ("magicoder", 185_000, "~185k (OSS-Instruct 75k + Evol-Instruct 110k)"),
    ("wizardcoder", 80_000, "~80k (Evol-Instruct code; rough)"),
]
SFT_RELEASED = {"coco_captions_2017": 0.01, "clevr_math": 0.02}
TEXT_ONLY = {"slimorca", "sharegpt", "evolinstruct", "gpteacher", "alpaca_gpt4", "ultrainteract", "orca_math",
             "mathinstruct", "metamath", "glaive_code", "magicoder", "wizardcoder"}


def weights(rows, released, cap):
    rest = 1.0 - sum(released.values())
    capped = {n: min(s, cap) for n, s, _ in rows if n not in released}
    total = sum(capped.values())
    out = {}
    for n, _, _ in rows:
        out[n] = released[n] if n in released else round(rest * capped[n] / total, 6)
    return out


def recipe(name, stage, desc, target, out, rows, released, cap):
    w = weights(rows, released, cap)
    srcs = []
    for n, size, note in rows:
        s = {"name": n, "manifest": f"../sources/{n}.json", "weight": w[n],
             "subflavors": {"augmentation": False}}
        s["note"] = note if size is None else f"est. {note}; weight {1 - sum(released.values()):.3f} x min(size, {cap}) / sum"
        srcs.append(s)
    doc = {"name": name, "description": desc, "stage": stage, "seed": 1234, "output": out,
           "target": {"samples": target}, "sources": srcs}
    return doc, w


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "manifests", "recipes")
    pre, wp = recipe("nvlm-pretrain", "pretrain",
                     "NVLM pretraining blend (paper Table 4). Released weights kept; the others by docs/MIXING.md's rule "
                     "from estimated sizes. Target: --train-samples of the released pretrain script.",
                     122880000, {"max_len": 512, "layout": "D", "form": "megatron", "tokenizer": "Qwen/Qwen2-72B-Instruct"},
                     PRETRAIN, PRETRAIN_RELEASED, 2_000_000)
    sft, ws = recipe("nvlm-sft", "sft",
                     "NVLM SFT blend (paper Table 6, multimodal and text-only SFT). Released weights kept; the others by "
                     "docs/MIXING.md's rule from estimated sizes. Target: --lr-decay-samples of the released SFT script.",
                     25600000, {"max_len": 3200, "layout": "D", "form": "megatron", "tokenizer": "Qwen/Qwen2-72B-Instruct"},
                     SFT, SFT_RELEASED, 100_000)
    for doc in (pre, sft):
        with open(os.path.join(root, doc["name"] + ".json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    if "--tables" in sys.argv:
        for title, rows, w in (("pretrain", PRETRAIN, wp), ("sft", SFT, ws)):
            print(f"\n{title}: {len(rows)} sources, text-only {sum(n in TEXT_ONLY for n, _, _ in rows)}\n")
            print("| source | est. size | weight | basis |\n|---|---:|---:|---|")
            for n, s, note in rows:
                print(f"| {n} | {'-' if s is None else f'{s:,}'} | {w[n]:g} | {note} |")


main()
