"""DepictQA's prompt text as data: system prompts, image tags, conversation layout, question banks.

The layout strings (system text, separators, tags, ``USER:``/``ASSISTANT:`` roles) follow the
official ``vicuna_v1`` conversation with unique tags exactly, so the released weights see the
sequence they were trained on. The question/answer banks are our own paraphrases in the official
forms (generic / ONE / TWO distortion questions, FR phrasings that mention the reference, the
single-word tail); the official banks hold about twenty phrasings each.
"""

SYSTEM_BASE = ("A chat between a curious human and an artificial intelligence assistant. "
               "The assistant gives helpful, detailed, and polite answers to the human's questions.")
SYSTEM_QUALITY = " As an AI assistant, you are performing an image quality assessment task."
SYSTEM_REFERENCE = " A high-quality Reference Image is provided to assist the evaluation."

# " </s> " is the vicuna sep2 padded with spaces; "</s>" in the text tokenizes to the EOS id.
SEGMENT_SEPARATOR = ' </s> '
USER_TURN = 'USER: {query}\n   ASSISTANT: '
ANSWER_END = '\n </s>'  # appended to every training answer; generation stops at EOS

# role -> (label, opening tag, closing tag). With unique tags every role has its own tag pair.
IMAGE_TAGS = {
    'ref': ('Reference Image', '<Img-Reference>', '</Img-Reference>'),
    'A': ('Image A', '<Img-A>', '</Img-A>'),
    'B': ('Image B', '<Img-B>', '</Img-B>'),
    'single': ('Image', '<Img>', '</Img>'),
}
SHARED_TAG = ('<Img>', '</Img>')  # used for every role when unique_tag is off

# task -> the image slots in prompt order, as (slot role, which input feeds it).
TASK_LAYOUTS = {
    'quality_compare': (('ref', 'ref'), ('A', 'A'), ('B', 'B')),
    'quality_compare_noref': (('A', 'A'), ('B', 'B')),
    'quality_single_A': (('ref', 'ref'), ('single', 'A')),
    'quality_single_A_noref': (('single', 'A'),),
    'quality_single_B': (('ref', 'ref'), ('single', 'B')),
    'quality_single_B_noref': (('single', 'B'),),
}


def task_name(compare, reference):
    """The official task for a request: a pair means compare, a reference means FR."""
    name = 'quality_compare' if compare else 'quality_single_A'
    return name if reference else name + '_noref'


def task_uses_reference(task):
    return not task.endswith('_noref')


def system_text(task):
    text = SYSTEM_BASE + SYSTEM_QUALITY
    if task_uses_reference(task):
        text += SYSTEM_REFERENCE
    return text + '\n\n'


SINGLE_WORD_TAIL = ' Answer the question using a single word or phrase.'
# a question containing one of these already asks for a one-word answer: no tail is added and its
# answer's confidence needs no second run (the official list, matched case-sensitively as there)
SINGLE_WORD_MARKERS = ('single word', 'one word', 'a word', 'single phrase', 'one phrase', 'a phrase')


def asks_single_word(query):
    return any(marker in query for marker in SINGLE_WORD_MARKERS)


def with_single_word_tail(query):
    return query if asks_single_word(query) else query + SINGLE_WORD_TAIL


# --- distortion identification (Task 1 brief) ------------------------------------------------
# Each entry: question forms keyed by count ('generic' / 1 / 2). {ref} marks FR-only wording.
IDENTIFY_QUESTIONS_NR = (
    {'generic': 'What distortions can be observed in the evaluated image?',
     1: 'What is the primary ONE distortion observed in the evaluated image?',
     2: 'What are the primary TWO distortions observed in the evaluated image?'},
    {'generic': 'Which degradations most affect the quality of the evaluated image?',
     1: 'Which ONE degradation most affects the quality of the evaluated image?',
     2: 'Which TWO degradations most affect the quality of the evaluated image?'},
    {'generic': 'Identify the distortions present in the evaluated image.',
     1: 'Identify the ONE most apparent distortion in the evaluated image.',
     2: 'Identify the TWO most apparent distortions in the evaluated image.'},
)
IDENTIFY_QUESTIONS_FR = (
    {'generic': 'Compared with the reference, what distortions appear in the evaluated image?',
     1: 'Compared with the reference, what is the primary ONE distortion in the evaluated image?',
     2: 'Compared with the reference, what are the primary TWO distortions in the evaluated image?'},
    {'generic': 'Relative to the reference image, which degradations does the evaluated image suffer from?',
     1: 'Relative to the reference image, which ONE degradation does the evaluated image suffer from most?',
     2: 'Relative to the reference image, which TWO degradations does the evaluated image suffer from most?'},
    {'generic': 'Using the reference as a guide, identify the distortions in the evaluated image.',
     1: 'Using the reference as a guide, identify the ONE most apparent distortion in the evaluated image.',
     2: 'Using the reference as a guide, identify the TWO most apparent distortions in the evaluated image.'},
)
IDENTIFY_SENTENCE = {
    1: 'The most apparent ONE distortion in the evaluated image is {names}.',
    2: 'The most apparent TWO distortions in the evaluated image are {names}.',
    'generic': 'The evaluated image suffers from {names}.',
}
NO_DISTORTION_WORD = 'None'
NO_DISTORTION_SENTENCE = 'The quality of the evaluated image is quite good without any distortion.'

# --- instant rating (Task 2 brief) -----------------------------------------------------------
RATE_AB_QUESTIONS = (
    'Which image do you believe has better overall quality: Image A or Image B?',
    'Between Image A and Image B, which one shows higher overall quality?',
    'Compare Image A and Image B: which has the better quality?',
    'Which of the two images, Image A or Image B, is of better quality?',
)
RATE_AB_SENTENCES = (
    'I believe {winner} has better overall quality.',
    '{winner} shows higher overall quality.',
)
AB_ANSWERS = ('Image A', 'Image B')

# --- quality level (our extension: the numeric score of create_metric) ----------------------
RATE_LEVEL_QUESTIONS = (
    'How would you rate the overall quality of the evaluated image?',
    'What is the overall quality level of the evaluated image?',
)
RATE_LEVEL_SENTENCE = 'The overall quality of the evaluated image is {level}.'
# answer word -> score; the expected value over these words is the metric's score.
QUALITY_LEVELS = (('Excellent', 1.0), ('Good', 0.75), ('Fair', 0.5), ('Poor', 0.25), ('Bad', 0.0))

# --- detailed tasks (no GT-informed paragraphs offline; questions only, for describe/compare) --
ASSESS_DETAIL_QUESTION = 'Could you assess the overall quality of the image and elaborate on your evaluation?'
COMPARE_DETAIL_QUESTION = ('Compare the overall quality of Image A with Image B and provide a '
                           'comprehensive explanation.')

# Distortion function -> its category's phrase in answers (the official wording where one exists);
# functions of one category (Gaussian and motion blur) share the phrase, as in the official data.
DISTORTION_WORDS = {
    'blur': 'blur',
    'motion_blur': 'blur',
    'noise': 'noise',
    'impulse_noise': 'noise',
    'jpeg': 'compression',
    'jpeg2000': 'compression',
    'compression': 'compression',
    'pixelate': 'pixelation',
    'quantization': 'color quantization',
    'oversharpen': 'oversharpening',
    'sharpen': 'oversharpening',
    'brighten': 'overly high brightness',
    'darken': 'insufficient brightness',
    'contrast_high': 'overly high contrast',
    'contrast_strengthen': 'overly high contrast',
    'contrast_low': 'insufficient contrast',
    'contrast_weaken': 'insufficient contrast',
    'saturation_high': 'overly high saturation',
    'saturate_strengthen': 'overly high saturation',
    'saturation_low': 'insufficient saturation',
    'saturate_weaken': 'insufficient saturation',
}


def distortion_word(name):
    return DISTORTION_WORDS.get(name, name.replace('_', ' '))


def join_distortions(words):
    """'noise' / 'noise and blur' (lower case, as inside a sentence)."""
    return ' and '.join(words)


def capitalised(text):
    return text[:1].upper() + text[1:]
