"""What the embedded model is asked to write: the hand-written prompts and the topic x genre grid.

The model-written share of the corpus is where everyday prose comes from (news-style reports, dialogue,
letters, reviews, how-tos, stories, poems): Debian and PyPI ship little modern English outside code and
documentation. :data:`PROMPTS` are free-form openings; :func:`topic_prompts` crosses :data:`TOPICS` (everyday
subjects a class would type) with :data:`GENRES` (kinds of text), so every topic is written about in
several registers and no one register dominates.
"""
from __future__ import annotations

import hashlib

__all__ = ["PROMPTS", "TOPICS", "GENRES", "topic_prompts"]

#: A broad hand-written prompt set: the model continues each one (seeded sampling) into a document.
PROMPTS: tuple[str, ...] = (
    # stories
    "Once upon a time, in a village at the edge of a great forest,",
    "The spaceship's engines went silent, and Captain Mara realised",
    "It was raining when the detective finally found the letter. It said:",
    "My grandmother always told me that the old lighthouse",
    "The dragon had not left its cave in three hundred years, until one morning",
    "Tom opened the box his father had left him. Inside, there was",
    "The last train of the night pulled into the empty station.",
    "When the robot woke up for the first time, the first thing it saw was",
    "She had never seen the ocean before. As the bus turned the corner,",
    "The king announced that whoever could solve the riddle would",
    "Chapter 1\n\nThe summer I turned twelve, everything changed.",
    "A short fable: The fox and the crow",
    "The children ran down to the river, laughing, because",
    "In the year 2150, cities floated above the clouds and",
    "The old man sat on the bench every day, feeding the pigeons, and",
    # dialogue
    "\"Where are you going?\" asked Anna.\n\"To the market,\" said Ben.",
    "Customer: Hi, I bought a kettle last week and it stopped working.\nAgent:",
    "Interviewer: What made you want to become a doctor?\nDr. Patel:",
    "Teacher: Can anyone tell me why the sky is blue?\nStudent:",
    "Alice: Did you finish the report?\nBob: Not yet, I",
    "Q: What is the capital of France?\nA: Paris.\nQ: What is the largest planet?\nA:",
    "User: Can you explain how photosynthesis works?\nAssistant:",
    "MOM: Have you done your homework?\nJAKE:",
    "Doctor: How long have you had these headaches?\nPatient:",
    "A conversation between two friends planning a trip to Japan:\n\nSam:",
    # lists and how-to
    "Top 10 tips for a good night's sleep:\n1.",
    "Shopping list:\n- eggs\n- milk\n-",
    "Things to pack for a camping trip:\n\n*",
    "How to change a flat tyre, step by step:\n\nStep 1:",
    "The planets of the solar system, in order from the Sun:",
    "A checklist for moving house:\n\n1.",
    "Five reasons to learn a second language:\n\n1.",
    "Frequently asked questions\n\nQ: How do I reset my password?\nA:",
    # recipes
    "Recipe: Classic pancakes\n\nIngredients:\n",
    "How to make a simple tomato soup.\n\nYou will need:",
    "Grandma's chocolate chip cookies\n\nPreheat the oven to",
    "Vegetable curry (serves 4)\n\nIngredients:\n-",
    "To bake bread at home, first",
    # news-like and factual prose
    "BREAKING NEWS: Scientists have discovered",
    "The city council voted on Tuesday to",
    "LONDON (Reuters) - Shares in",
    "The weather forecast for the weekend:",
    "In a press release issued this morning, the company said",
    "Local school wins national science competition.",
    "The football match ended 2-1 after",
    "Election results: with 95% of votes counted,",
    "The museum will reopen next month after a two-year renovation that",
    "Wikipedia article: The Amazon rainforest\n\nThe Amazon rainforest is",
    "The history of the bicycle begins in",
    "Mount Everest is the highest mountain on Earth,",
    "The human heart has four chambers:",
    "Photosynthesis is the process by which",
    "The French Revolution began in 1789 when",
    "Honeybees communicate with each other by",
    "The Great Wall of China",
    "Volcanoes form when",
    "The theory of evolution by natural selection",
    "Antibiotics are medicines that",
    "Climate change refers to",
    "The Roman Empire was",
    "Jupiter has at least",
    "Elephants are the largest land animals",
    # opinion, letters, reviews, ads
    "Dear Sir or Madam,\n\nI am writing to complain about",
    "Dear Emma,\n\nThank you so much for the lovely birthday present.",
    "Review: ★★★★☆\nThe hotel was clean and the staff were friendly, but",
    "Movie review: The film opens with",
    "I think the most important invention of the last century is",
    "FOR SALE: Blue mountain bike, barely used.",
    "Job advertisement: We are looking for a friendly and reliable",
    "To whom it may concern,\n\nI would like to recommend",
    "Product description: This stainless steel water bottle",
    "Diary, Monday 3rd March.\nToday was strange.",
    "Hey! Long time no see. Guess what happened at work today?",
    "Restaurant menu\n\nStarters\n-",
    # maths and numbers
    "Problem: A train travels 120 km in 2 hours. What is its average speed?\nSolution:",
    "Let x be a real number such that 2x + 3 = 11. Then",
    "The derivative of f(x) = x^2 + 3x is",
    "Theorem. There are infinitely many prime numbers.\nProof.",
    "Table of squares:\n1 x 1 = 1\n2 x 2 = 4\n3 x 3 = 9\n",
    "If a rectangle has a length of 8 cm and a width of 5 cm, its area is",
    "Convert 3/4 to a percentage:",
    "The Pythagorean theorem states that",
    "2 + 2 = 4\n3 + 5 = 8\n7 + 6 =",
    "Sales figures for 2023:\nJanuary: 1,204\nFebruary: 1,350\nMarch:",
    "The probability of rolling two sixes with a pair of dice is",
    "Exercise 4. Solve the system of equations:",
    "In 1969, when Apollo 11 landed on the Moon,",
    "The population of the town grew from 5,000 in 1950 to",
    # code and technical
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "# A simple web server in Python\nimport http.server\n",
    "function debounce(fn, wait) {\n",
    "SELECT name, COUNT(*) FROM orders\n",
    "To install the package, run:\n\n    pip install",
    "Error: cannot find module 'express'. This error usually means",
    "public class HelloWorld {\n    public static void main(String[] args) {\n",
    "<!DOCTYPE html>\n<html>\n<head>\n<title>",
    "#include <stdio.h>\n\nint main(void) {\n",
    "git commit -m \"Fix bug in",
    "How does a hash table work? A hash table",
    "The difference between TCP and UDP is",
    "fn main() {\n    let numbers = vec![",
    "{\n  \"name\": \"example\",\n  \"version\": \"1.0.0\",\n",
    # other languages
    "Il était une fois une petite fille qui",
    "Es war einmal ein König, der",
    "Había una vez un niño que vivía",
    "C'era una volta un piccolo paese",
    "Era uma vez uma menina chamada",
    "Dit is een verhaal over",
    "Det var en gång en",
    "Dawno, dawno temu, w małej wiosce",
    "Жил-был старик со своею старухою",
    "昔々、ある村に",
    "从前有一座山，山上有一座庙，",
    "옛날 옛적에",
    "Bir zamanlar küçük bir köyde",
    "في قديم الزمان",
    "एक समय की बात है",
    "Ngày xửa ngày xưa,",
    "Hapo zamani za kale,",
    "La recette de la ratatouille :\n\nIngrédients :",
    "Sehr geehrte Damen und Herren,\n\nich schreibe Ihnen, weil",
    "El tiempo para mañana:",
    "Die Hauptstadt von Deutschland ist",
    "Le chat est assis sur",
    "Translate to French: The weather is nice today.\nFrench:",
    "English: Good morning, how are you?\nSpanish:",
    # poetry, songs, misc
    "A poem about the sea:\n\n",
    "Roses are red,\nViolets are blue,\n",
    "Haiku:\n",
    "The lyrics of the song began:",
    "Knock knock.\nWho's there?\n",
    "Motivational quote of the day:",
    "Meeting minutes, 14 May\n\nAttendees:",
    "Abstract. We propose a new method for",
    "Terms and conditions\n\n1. Introduction\n\n",
    "Instructions: Read the passage below and answer the questions.\n\n",
    "Tweet: Just had the best coffee of my life at",
    "Breaking: the local zoo welcomed a baby",
    "The rules of chess are simple:",
    "My favourite hobby is gardening because",
    "Travel guide: Three days in Rome\n\nDay 1:",
    "Customer reviews for wireless headphones:\n\n1.",
    "The meeting has been moved to Thursday at 3 pm because",
    "Welcome to our podcast! Today we are talking about",
    "Sports report: In last night's basketball game,",
    "Letter to the editor:\n\n",
    "Emergency instructions: In case of fire,",
    "A brief biography of Marie Curie:",
    "Timeline of the Second World War:\n\n1939 -",
    "The instructions for the board game say:",
)

#: Everyday subjects, each a noun phrase that reads naturally after "about".
TOPICS: tuple[str, ...] = (
    # animals and nature
    "dogs", "cats", "horses", "birds", "fish and fishing", "bees and honey", "snakes", "whales and dolphins",
    "dinosaurs", "insects", "farm animals", "a trip to the zoo", "the ocean", "rivers and lakes", "mountains",
    "forests and trees", "deserts", "islands", "flowers", "gardening", "the weather", "rain and thunderstorms",
    "snow and winter", "a hot summer", "autumn leaves", "volcanoes", "earthquakes", "the moon", "the stars",
    "the planets", "climate change",
    # food and home
    "baking bread", "cooking dinner", "coffee", "tea", "chocolate", "fruit", "vegetables", "pizza",
    "a birthday cake", "breakfast", "a restaurant", "wine", "cheese", "spicy food", "a kitchen", "our house",
    "moving house", "cleaning", "furniture", "a garden party",
    # body, health, feelings
    "a visit to the doctor", "a hospital", "a cold and a fever", "the dentist", "sleep", "exercise",
    "running a marathon", "medicine", "a broken leg", "happiness", "sadness", "anger", "fear", "love",
    "friendship", "loneliness", "grief", "a wedding", "a new baby", "growing old", "a family dinner",
    # sport and play
    "football", "basketball", "tennis", "swimming", "cycling", "skiing", "the Olympic Games", "chess",
    "a board game", "video games", "toys", "a playground",
    # culture
    "music", "playing the piano", "learning the guitar", "singing in a choir", "a rock concert", "jazz",
    "painting", "photography", "a museum", "a film", "the theatre", "dancing", "a library", "a novel",
    "poetry", "a newspaper", "television", "Christmas", "a holiday by the sea", "a festival",
    # places and travel
    "Paris", "London", "New York", "Tokyo", "Rome", "Egypt", "India", "Brazil", "Australia", "a small village",
    "a big city", "a train journey", "an airport", "a long flight", "a road trip", "a ship", "a hotel",
    "camping",
    # work, money, society
    "school", "a new teacher", "exams", "university", "homework", "a job interview", "an office", "a factory",
    "a farm", "money", "a bank", "shopping", "prices going up", "a small business", "an election",
    "the government", "a new law", "the police", "a court case", "a crime", "a war", "peace talks",
    "a charity", "a church", "a king and a queen", "ancient Rome", "the Middle Ages", "history",
    # science and technology
    "computers", "smartphones", "the internet", "robots", "artificial intelligence", "space travel",
    "a rocket launch", "electricity", "chemistry", "physics", "biology", "an experiment", "cars",
    "electric cars", "bicycles", "airplanes", "trains", "a bridge", "fire", "water",
    # stories and imagination
    "a dragon", "a castle", "pirates", "a ghost", "magic", "a treasure map", "a lost key", "a secret",
    "a detective", "a storm at sea",
)

#: Kinds of text. ``{t}`` is the topic, ``{T}`` the topic with a capital first letter.
GENRES: tuple[tuple[str, str], ...] = (
    ("news", "NEWS REPORT\n\n{T}: what happened this week\n\nOfficials said on Monday that"),
    ("news2", "Local news. A story about {t} has surprised people in our town. It began when"),
    ("story", "A short story about {t}.\n\n"),
    ("kids", "A story for children about {t}.\n\nOnce upon a time,"),
    ("encyclopedia", "Encyclopedia entry: {T}\n\n{T}"),
    ("howto", "A beginner's guide to {t}\n\nIf you are new to this, the first thing to know is"),
    ("letter", "Dear Sam,\n\nI have to tell you about {t}."),
    ("review", "Review (4 out of 5 stars)\n\nI have mixed feelings about {t}."),
    ("dialogue", "Two friends are talking about {t}.\n\nMaya: "),
    ("diary", "Diary, Sunday evening.\n\nToday was all about {t}."),
    ("poem", "A poem about {t}\n\n"),
    ("qa", "Question: What is the most interesting thing about {t}?\n\nAnswer:"),
    ("blog", "Why I changed my mind about {t}\n\nA few years ago, I"),
    ("lesson", "Today's lesson is about {t}. Open your books, everyone."),
)


def topic_prompts(n: int | None = None, salt: str = "grid-v2") -> list[tuple[str, str]]:
    """``(key, prompt)`` pairs for the topic x genre grid, in a stable pseudo-random order.

    ``n`` keeps the first ``n`` of that order, which spreads any budget over every topic and genre rather
    than taking the first topics in full. The key names the genre and topic, so a cache stays valid when
    topics are added.
    """
    pairs = []
    for topic in TOPICS:
        cap = topic[0].upper() + topic[1:]
        for gname, template in GENRES:
            key = f"{gname}:{topic}"
            pairs.append((key, template.format(t=topic, T=cap)))
    pairs.sort(key=lambda kp: hashlib.sha256(f"{salt}:{kp[0]}".encode()).hexdigest())
    return pairs if n is None else pairs[:n]
