"""Words that settle what a message asks for, before the classifier is asked.

A question about a reason ("why", "what made you pick"), about the person's taste ("my taste",
"what do I usually watch"), a verdict on something shown ("loved it", "the last one was
perfect") and a request for items ("give me", "what should I buy") are marked in most
languages of chat by a few words; where they are present the grammar decides, and where none
is, the classifier does (it was trained for the open-ended rest).
"""

from __future__ import annotations

import re

WHY = re.compile(
    r"^\s*why\b(?!\s+not\b)|\bwhy (?:did|do|is|was|are|were|would|this|that|these|the|on earth|'d|'s)\b|"
    r"\bwhat made you\b|\bhow come\b|\bhow did you (?:land on|pick|choose|come up with|decide|end up|get to|find)\b|"
    r"\bwhat makes you think\b|\bexplain (?:yourself|that|this|the|why|your|how)\b|\bwhat's the reason\b|"
    r"\breason (?:for|behind)\b|\bwhat's behind\b|\bwhy's\b|\bbased on what\b|\bwhere did (?:that|this|it) come from\b|"
    r"\bwhat (?:about me|in my history) (?:made|makes)\b|\bjustify\b|\breasoning\b|"
    r"\b(?:on there|on the list|in the list|in there|here|there) because\b|^is .{1,60} because\b|\bwhere did .{1,40} come from\b|"
    r"\bwhat's the logic\b|\bwhy would i\b")
PROFILE_FIRST = re.compile(  # questions about the person that look like a why or a request
    r"\bwhy do you think (?:i|we)(?:'m| am| are)?\b|\b(?:show|tell) me (?:what you(?:'ve| have)? (?:know|think|got)|"
    r"my (?:\w+ )?(?:taste|profile|preferences|interests|history))\b|\bdo you think (?:i|we)\b|"
    r"\bwould you say (?:i|we)(?:'m| am|'re| are)?\b|\bdo you have (?:me|us) (?:down )?as\b|"
    r"\bwhat (?:info|information|data) do you have (?:on|about) (?:me|us)\b|"
    r"\bwhat's in my (?:\w+ )?history\b|\bwhat do you know about (?:our|my) (?:household|family|home)\b|"
    r"\bwhat's (?:my|our) most (?:bought|watched|purchased|frequent|common)\b")
PROFILE = re.compile(
    r"\bmy (?:taste|tastes|profile|interests|preferences|habits|type|viewing|shopping|reading)\b|"
    r"\bwhat (?:do|did) i (?:usually|normally|typically|mostly|tend to|generally|actually)\b|"
    r"\bwhat (?:do|did) you (?:think|reckon|guess) i (?:like|want|enjoy|am into|'m into)\b|"
    r"\bwhat kind of (?:viewer|shopper|reader|person|customer|watcher|buyer) am i\b|"
    r"\bhow (?:have|has|did) my\b|\bwhere (?:are|is) my (?:tastes?|interests?) (?:heading|going)\b|"
    r"\bwhat (?:will|would) i (?:like|want|be into) next\b|\bam i (?:more|less|still) (?:into|a)\b|"
    r"\bwhat am i into\b|\bdescribe me\b|\bsum me up\b|\bwhat's my (?:vibe|thing|type)\b|"
    r"\bwhat (?:kind|sort|type)s? of .{0,25}\b(?:do|am) i\b|\b(?:am|are) i .{0,20}\bperson\b|"
    r"\bhave i (?:changed|shifted|moved|been (?:into|watching|buying))\b|"
    r"\bam i (?:getting|becoming|more|less|still|really|turning|buying|watching|eating|drinking|reading)\b|"
    r"\bha(?:ve|s) my .{1,30} changed\b|"
    r"\bdo i (?:like|prefer|usually|tend|seem|mostly|watch|buy)\b|\bmy (?:favou?rite|top|main) (?:genres?|topics?|"
    r"categories|kinds?|types?|things|departments?)\b")
TRYING = re.compile(r"\b(?:i'm|we're|i am|we are) (?:trying|aiming|hoping) to (?:eat|buy|drink|watch|cook|read) "
                    r"(?:more|less|fewer)\b")
NEGATIVE_STATED = re.compile(r"\bnot (?:a |really a )?(?:big |huge )?fan of\b|\bi (?:don't|do not) (?:really )?(?:like|eat|"
                             r"drink|watch|enjoy|buy|care for)\b|\bi tend to (?:dislike|avoid)\b|\bnot really my thing\b")
COMPLIMENT = re.compile(r"\byou(?:'re| are) (?:so |really |the )?(?:great|awesome|amazing|best|funny|smart|helpful|cool|"
                        r"nice|the best)\b|\bgood (?:bot|job)\b")
SENTIMENT_GOOD = re.compile(
    r"\b(?:loved|liked|enjoyed|(?:like|love)d? (?:it|that|this|them|those)|great|perfect|amazing|awesome|fantastic|brilliant|excellent|good one|"
    r"nice one|spot on|nailed it|thumbs up|fave|favou?rite|wonderful|superb|solid|delicious|tasty|hit the spot|"
    r"well done|cool pick|good pick|great pick|love it|loved it)\b|👍|❤️|😍")
SENTIMENT_BAD = re.compile(
    r"\b(?:not for me|didn't like|did not like|don't like|hated?|dislike[ds]?|boring|awful|terrible|meh|"
    r"no thanks|thumbs down|not my thing|bad|worst|dull|horrible|disgusting|gross|overrated|rubbish|trash|"
    r"waste|a miss|missed|nope|yuck|stale|too sweet|too salty|not great|not good|disappointing|cringe|"
    r"make me cringe|couldn't finish|fell asleep|walked out|already (?:seen|watched|bought|had|read))\b|👎")
REFERENT = re.compile(
    r"\b(?:it|that one|this one|that|this|the (?:first|second|third|fourth|fifth|last|\d(?:st|nd|rd|th)) "
    r"(?:one|pick|suggestion|movie|film|product|item)?|that last one|the last one|your (?:pick|suggestion)|"
    r"that suggestion|that pick|those|these|the (?:movie|film|product|item|pick|suggestion))\b")
REQUEST = re.compile(
    r"\b(?:recommend|suggest|give me|show me|find me|get me|pick (?:me|something|one|a)|what should i|"
    r"what can i|what could i|anything (?:good|worth|new|to)|something (?:for|to|good|worth)|"
    r"need (?:a|an|some|something|ideas|\d+|two|three|four|five|six|a few|a couple)|"
    r"want (?:a|an|some|something|\d+|two|three|four|five|a few|a couple)|looking for|in the mood for|"
    r"surprise me|what else|what's (?:a |an |some )?(?:good|great|decent)|any (?:good|great|decent|fun|hidden|"
    r"new|ideas)|(?:hidden )?gems|ideas for|options for|what do you have|hit me with|throw me|line up|"
    r"shopping list|what to (?:watch|buy|read|get|try|cook|eat)|restock|stock up|what do (?:i|we) need|for tonight|tonight|this weekend|more please|"
    r"show more|next page|another (?:list|batch|round)|what goes with|i'm bored|help me (?:pick|choose|find|"
    r"decide)|(?:any|some|more|your|new|a few|few|need|want) (?:recommendations?|suggestions?|recs|picks)|"
    r"(?:recommendations?|suggestions?|picks) (?:for|please)|what would you (?:put on|pick|choose|go with|"
    r"recommend|suggest)|for someone who|^(?:recommendations?|suggestions?|picks))\b")
CHANGE = re.compile(  # asks for a different list than the one shown
    r"\bsomething (?:completely |totally |entirely )?different\b|\b(?:different|other) ones\b|\bsomething else\b|\bnot these\b|\bswap (?:them|these|it)\b|"
    r"\breplace (?:them|these|it|that)\b|\bchange (?:the|these|them|it) up\b|\bshuffle\b")
SMALL_TALK = re.compile(
    r"^\s*(?:hi|hello|hey|yo|thanks|thank you|cheers|bye|goodbye|good (?:morning|night|evening)|ok|okay|cool|"
    r"how are you|who are you|what can you do|help|brb|lol|haha|hmm|k|sure|nice|wow)\b|"
    r"\b(?:brb|be right back|gotta go|talk later|ttyl|my password|log ?in|account settings|sign out)\b")
TRIVIA = re.compile(r"\b(?:recipe|how (?:do|to|can) (?:i |we )?(?:cook|make|bake)|what year|who (?:directed|starred|wrote|made|plays)|how long is|when (?:did|was)|"
                    r"what time|who is in|what's the weather|is it (?:raining|sunny))\b")
