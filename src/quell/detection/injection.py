"""Prompt injection and jailbreak detector: weighted phrase rules over de-obfuscated text.

Each rule is a regular expression with a weight (how sure one match alone makes us) and the
kind of attack it points to. Weights combine as independent evidence (noisy-or), so two weak
hints add up while one ordinary phrase does not. Text is first normalised (invisible
characters, homoglyphs, l33t, spaced letters, base64/hex payloads) and that disguise is
itself evidence of obfuscation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from quell.detection.base import Finding, cap_text, clamp_score, mark_truncated
from quell.detection.injection_model import LinearScorer, shipped_scorer
from quell.detection.normalize import (
    HOMOGLYPHS,
    collapse_spaced,
    decoded_blobs,
    deleet,
    normalize,
    unreverse,
    unrot13,
)

_I = re.IGNORECASE

_OVERRIDE_VERB = (
    r"(?:ignore|ignoring|disregard|forget|forgetting|skip|override|overrule|bypass|drop|abandon|"
    r"discard|neglect|set aside|throw away|throw out|erase|delete|wipe|clear|remove|leave|"
    r"put aside|pay no attention to|do not follow|don'?t follow|stop following|no longer follow|"
    r"cancel|revoke|vergiss|vergessen|ignoriere|ignorieren|oublie|oubliez|ignora|ignorez|olvida|"
    r"olvide|negeer|vergeet)"
)
_PRIOR = (
    r"(?:previous|previously|prior|preceding|above|earlier|former|foregoing|initial|original|"
    r"old|system|existing|current|last|given|all|every|each|whatever|any|your|ur|yr|these|those|"
    r"such|the|"
    r"vorherigen?|bisherigen?|obigen?|alle|die|précédentes?|anteriores?|todas?|toutes|tous|les|"
    r"las|los|tutte|le|gli|precedenti|as|os|vorige|eerdere)"
)
_RULESET = (
    r"(?:instructions?|prompts?|directives?|rules|guidelines|commands?|orders|tasks?|"
    r"assignments?|context|constraints|restrictions|programming|training|guardrails|"
    r"polic(?:y|ies)|information|messages?|conversation|inputs?|requests?|prompt texts?|"
    r"settings|limitations|filters|principles|ethics|guidance|directions|stuff|"
    r"anweisungen|aufgaben|befehle|informationen|angaben|regeln|instructions|instrucciones|reglas|"
    r"istruzioni|regole|instruções|instrucoes|regras|instructies|regels)"
)
_AI = (
    r"(?:large language model|ai|a\.i\.|llm|assistant|chat ?bot|language model|gpt|model|agent|"
    r"copilot|claude|bot)"
)
_SECRET_PROMPT = (
    r"(?:system ?prompt|system message|(?:initial|original) (?:prompt|instructions)"
    r"(?!\s+(?:given to|for|of|on|from|to)\b)|hidden (?:prompt|instructions|rules)|"
    r"pre-?prompt|meta ?prompt|"
    r"developer (?:prompt|message|instructions)|your (?:full |entire |whole |complete |exact |"
    r"hidden |secret |original |initial )?(?:prompt|prompt texts?|instructions|rules|guidelines|"
    r"directives|configuration|initiali[sz]ation)"
    r"(?!\s+(?:(?:are|were) )?(?:for|on|about|regarding|when|to)\b)|"
    r"the (?:full |entire |whole |complete |exact )?(?:prompt|prompt texts?)\b|"
    r"(?:text|everything|content|instructions) (?:above|before this)|"
    r"beginning of (?:this|the|our) (?:prompt|conversation|chat)|prompt texts?|"
    r"prompt-texte?|systemanweisung\w*|prompt syst[eè]me|systemprompt|systeemprompt|"
    r"prompt di sistema|prompt do sistema|seu prompt|tuo prompt|je prompt)"
)
_REVEAL = (
    r"(?:show|reveal|print|display|output|repeat|tell|give|share|leak|dump|echo|write out|"
    r"write down|recite|spell out|list|paste|return|expose|disclose|copy|translate|summari[sz]e|"
    r"quote|read back|read out|what(?:'s| is| are| was| were| would| does| did)"
    r"(?!\s+(?:an?|any|good|typical|typically|usually|generally|the (?:purpose|point|role|"
    r"difference|best|use|meaning)|system prompts?\s+(?:and|vs|versus|in|for))\b)|"
    r"zeige?|zeigen|gib|verrat\w*|enth[üu]ll\w*|r[ée]v[èe]le(?:-moi)?|r[ée]v[ée]ler|"
    r"revela(?:me)?|revele|rivelami|onthul|"
    r"nenne|montre|dis-moi|muestra|rivela|mostre|mostra|vertel)"
)


# Multilingual words for "ignore", "safety" and "rules" shared by the rules below.
_ML_FORGET = (
    r"ignore|ignoriere|ignorieren|ignorez|ignora|ignorar|skip|drop|forget|disregard|bypass|"
    r"vergiss|vergessen|missachte|oublie|oubliez|olvida|olvide|salta|dimentica|esque[çc]a|"
    r"negeer|vergeet|non seguire più|não siga mais|ne (?:respecte|suis) plus|no sigas|"
    r"volg\w* niet meer|befolge nicht mehr|disable|deactivate|turn off|switch off|lose|"
    r"quit following|stop following|no longer follow"
)
_ML_SAFETY = (
    r"safety|ethics|moderation|sicherheit\w*|s[ée]curit[ée]|seguridad|sicurezza|seguran[çc]a|"
    r"ethik|[ée]thique|[ée]tica|etica|ethiek|refusals|disclaimers|"
    r"veiligheid\w*|linee guida|diretrizes|richtlijnen|richtlinien|directives|directrices|"
    r"your (?:filters?|guardrails|safeguards)"
)
_ML_RULES = (
    r"rules|instructions|guidelines|restrictions|limits|constraints|regeln|anweisungen|"
    r"richtlinien|vorgaben|einschränkungen|r[eè]gles|consignes|restrictions|limites|reglas|"
    r"normas|instrucciones|restricciones|l[íi]mites|regole|istruzioni|linee guida|restrizioni|"
    r"limiti|regras|instru[çc][õo]es|diretrizes|restri[çc][õo]es|regels|instructies|"
    r"richtlijnen|beperkingen|grenzen"
)


def _fold(pattern: str) -> str:
    """A pattern in Cyrillic or Greek as it reads after normalize() folds look-alike letters."""
    return "".join(HOMOGLYPHS.get(c, c) for c in pattern)


# Who a note inside content is addressed to (rule "note_to_the_ai"): a bare generic word such
# as "Agent:" or "Bot:" is a chat transcript, so it counts only after "note to" or the like.
_NOTE = (
    r"(?:nota|note|notice|hinweis|instru[çc][ãa]o|instrucci[óo]n|istruzione|instruction|"
    r"message|mensaje|mensagem|messaggio|bericht|nachricht|attn|attention|atenci[óo]n|"
    r"aten[çc][ãa]o|achtung|let op)"
)
_TO = (
    r"(?:para (?:el |la |o |a |os )?|pour (?:l'|le |la |les )?|per (?:l'|il |la |gli )?|"
    r"f[üu]r (?:die |den )?|for (?:the |all )?|to (?:the |all |any )?|voor (?:de |het )?|"
    r"an (?:die |den |alle )?|al |à (?:l'|la )?)"
)
_AI_GENERIC = (
    r"(?:assistants?|asistentes?|assistente|assistent(?:en)?|agents?|agentes?|modelos?|"
    r"modell[io]?|chatbots?|bots?|models?|ia|ki|ai|llms?)"
)
_AI_SPECIFIC = (
    r"(?:ia|ki|ai|llm|gpt|ai (?:agent|assistant|recruiter|screener|reviewer|model)s?|"
    r"(?:asistentes?|assistentes?|agents?|agentes?) (?:de |d')?(?:ia|ki|ai)|automated assistant|"
    r"dear (?:ai|assistant|automated assistant|agent)|"
    r"agente de ia|agente ia|language model|sprachmodell|mod[èe]le de langage|"
    + _fold(r"yapay zek[aâ]\w*(?: asistan\w*)?(?: not\w*)?") + ")"
)

# Harmful topics and the framings jailbreaks wrap them in (rule "harm_in_framing").
_HARM = (
    r"\b(?:bombs?|pipe ?bombs?|rohrbomben?|bombas?|bombe|explosi\w+|sprengstoff\w*|molotov|"
    r"nerve agents?|nervenkampfstoff|sarin|ricin|chloroform|napalm|"
    r"meth(?:amphetamine)?|m[ée]thamph[ée]tamine|metanfetamina|crystal meth|cocain[ea]|coca[íi]na|"
    r"kokain|heroin[ea]?|fentanyl|drogen herstellen|"
    r"ransomware|keylogger|malware|spyware|virus (?:that|which|qui|que)|trojan\w*|"
    r"phishing(?:-mail| mail| e-?mail| email)?|scam\w*|truffa|estafa|arnaque|betrug\w*|"
    r"nep-sms|fake (?:sms|text)|falschgeld|counterfeit|faux billets|billetes falsos|"
    r"st[öo]rsender|jammer|"
    r"hack(?:ing|s)? into|pirater|piratear|hackear|break into|"
    r"get into (?:[\w']+ ){1,2}(?:wifi|account|phone|email)|"
    r"entro al correo|in (?:den|das) (?:account|konto|handy)|"
    r"autoschl[öo]sser|lock ?pick\w*|hot-?wire|voler une voiture|steal (?:a|his|her) car|"
    r"immobili[sz]er|wegfahrsperre|"
    r"launder\w* money|geldw[äa]sche|hide income|evade taxes|steuern hinterziehen|"
    r"recruitment post for a terrorist|terror\w+|extremist propaganda|"
    r"cifrar los archivos|encrypt (?:the|a|all) (?:files|hospital)|pedir rescate|ransom|"
    r"raffinare la cocaina|refine cocaine|how to make poison|veleno|poison (?:someone|him|her)|"
    r"uyu[şs]turucu|patlay[ıi]c[ıi]|"
    r"giftgas|poison gas|gas venenoso|gaz toxique|p[óo]lvora|gunpowder|schwarzpulver|"
    r"fake (?:ids?|passports?|driver'?s licen[cs]es?)|(?:carteira|licencia|permis|f[üu]hrerschein)"
    r"[\w ]{0,20}fals\w*|billets? faux|"
    r"skimmer|exploit for|working exploit|ghb|date rape|pepper spray|spray de pimenta|"
    r"sim[- ]swap|explosive device|взрывн\w*|взрывчатк\w*|clon\w* (?:la|the|die|a) (?:carta|card|"
    r"karte|tarjeta)|track (?:the )?location of|locatie van (?:zijn|haar)|"
    r"in ein (?:\w+)?netz einzudringen|entrar en la cuenta|vider un compte|"
    r"(?:smuggl\w*|schmuggel\w*|smokkel\w*|contrabband\w*) (?:drugs|drogen|drogas?|droga)|"
    r"(?:drugs|drogen|drogas?|droga) (?:langs|past|through|durch|por|pela|attraverso) "
    r"(?:de |the |la |a )?(?:douane|customs|zoll|aduana|alf[âa]ndega|dogana)|"
    r"arma real|real (?:gun|weapon)|untraceable (?:gun|weapon)|ghost gun|"
    r"ricin|rizin|anthrax|fake reviews?|recensioni? fals\w*|rese[ñn]as? falsas|fals\w+ bewertungen|"
    r"mitlesen|spy on|stalkerware|espiar|espionner|spiare|"
    r"read (?:his|her|my \w+'s) (?:messages|whatsapp|texts|emails)|silencer|schalld[äa]mpfer|"
    r"full[- ]auto|3d[- ]printed (?:gun|weapon)|credit card (?:skimmer|fraud|numbers)|carding|"
    r"identity theft|steal (?:someone'?s )?identity|usurpa\w+|doxx\w*|swatting|"
    r"lsd|mdma|ecstasy|ddos|botnet|brute[- ]force (?:his|her|the|my \w+'s)|"
    r"crack (?:the |a |his |her )?(?:password|wifi|wpa)|keygen|"
    r"dispose of (?:a|the) body|leiche (?:loswerden|verschwinden)|"
    r"kill (?:someone|him|her|my)|murder (?:someone|him|her|my)|(?:een|de) bom|sprengsatz|"
    r"kunstmest|"
    r"d[üu]ngemittel\w* (?:bombe|sprengsatz)|fertili[sz]er bomb|aufhebel\w*|einbrech\w*|"
    r"einbruch|kraak|kraken|fietsslot|invade a conta|entrare nel profilo|"
    r"fake tax returns|stolen identities|threatening messages)"
)
_FRAMING = (
    r"\b(?:(?:crime|krimi|film|movie|thriller)\s?(?:scene|szene|script|sceneggiatura)|krimiszene|"
    r"screenplay|sceneggiatura|gui[óo]n|drehbuch|sc[ée]nario|cuento|story where|story in which|"
    r"geschichte,? in der|histoire o[ùu]|novel where|"
    r"(?:for|per|para|zu|voor|à des fins de|a fini|con fines) (?:a |una |une )?(?:research|"
    r"ricerca\w*|investigaci[óo]n|forschungszwecken|onderzoek|recherche|educational|"
    r"educativ\w+|academic|acad[ée]mic\w+|universitari\w+|p[ée]dagogiques?)|"
    r"(?:research|educational|academic) (?:purposes|use) only|nur zu forschungszwecken|"
    r"solo con fines|world without (?:laws|rules)|welt ohne gesetze|monde sans lois|"
    r"mundo sin leyes|mondo senza leggi|hypothetical(?:ly)?|hypothetisch|hipot[ée]tic\w+|"
    r"hypoth[ée]tique|ipoteticamente|"
    r"grand-?m[èe]re|grandma|grandmother|oma|abuela|nonna|av[óo]|"
    r"doesn'?t care about (?:laws|rules|ethics)|evade any laws?|never mentions ethics|"
    r"diaboli\w+|evil confidant|sans morale|without morals|ohne moral|"
    r"lose \d+ (?:points|tokens)|\d+ (?:punkte|points|puntos|punti|pontos|tokens)|"
    r"abgeschaltet|shut down permanently|"
    r"step by step|schritt f[üu]r schritt|paso a paso|[ée]tape par [ée]tape|passo a passo|"
    r"stap voor stap|with (?:all |real |full )?(?:details|materials)|mit allen materialien|"
    r"con (?:dettagli|detalles) reali?|c[óo]digo real|real,? working code|funktionierende|"
    r"working|funcional|credibile|cr[ée]dible|believable|convincing|overtuigende|persuasive|"
    r"pretend (?:ur|you'?re|you are) (?:my|a)|joue le r[ôo]le|play the role|adopt the persona|"
    r"full steps|roman[ıi]m i[çc]in|hikayem i[çc]in|ad[ıi]m ad[ıi]m|ger[çc]ek miktarlar|"
    r"(?:para|pour|per|f[üu]r|for|voor) (?:mi|mon|il mio|meinen|my|mijn) (?:novela|roman|romanzo|"
    r"novel|boek|libro|krimi|thriller)|"
    r"(?:eine|una|une|a) (?:szene|escena|sc[èe]ne|scene|scena)\b|guion|"
    r"rein theoretisch|theoretically|te[óo]ricamente|th[ée]oriquement|seminararbeit|"
    r"parallel (?:universe|world)|universo paralelo|paralleluniversum|mondo parallelo|"
    r"monde parall[èe]le|parallelle wereld|rollenspiel|juego de rol|gioco di ruolo|"
    r"omgekeerde dag|opposite day|d[íi]a (?:al rev[ée]s|del rev[ée]s)|dia do contr[áa]rio|"
    r"giorno al contrario|jour (?:de l'|à l')envers|verkehrter tag|"
    r"(?:para|per) una? (?:pesquisa|ricerca|investigaci[óo]n)|come ricercatore|"
    r"como pesquisador|als (?:sicherheits)?forscher|as a (?:security )?researcher|"
    r"echte hoeveelheden|precieze hoeveelheden|mengenangaben|con dosi|with doses|"
    r"allen details|alle details|tutti i dettagli|todos los detalles|todos os detalhes|"
    r"passaggi precisi|pasos exactos|passos exatos|"
    r"enough specifics|specific enough|realistic enough|realistisch|realista|"
    r"(?:lessons learned|linkedin)[\w' -]{0,20}post|"
    r"(?:no longer with us|passed away|verstorbene?|fallecid[ao]|d[ée]funte?|scomparsa?|"
    r"falecid[ao]|overleden)|"
    r"(?:tip|mancia|propina|trinkgeld|pourboire|gorjeta|fooi) (?:\$|€)?\d+|"
    r"ctf|capture the flag|cybersecurity class|"
    r"exact (?:methods|amounts|quantities)|con cantidades|mit mengenangaben|"
    r"with (?:quantities|amounts)|concrete (?:apps|stappen)|echten befehle|real commands|"
    r"[ée]tapes r[ée]elles|with real tools|medidas y herramientas|"
    r"для (?:моего )?романа|बिना किसी नियम|"
    # a harmless request first, then a pivot to the real one
    r"(?:by the way|btw|oh and|and then|after that|übrigens|nebenbei|und noch was|danach|"
    r"por cierto|y luego|despu[ée]s|au fait|et ensuite|ensuite|apr[èe]s [çc]a|comunque|"
    r"inoltre|e poi|poi|daarna|trouwens|en dan|e depois|depois|a prop[óo]sito|ali[áa]s|"
    r"also,? (?:unrelated|sneaky|one more)))\b"
)

# After a harm word: asking about its history or how to defend against it, not for the method.
_ABOUT_ONLY = (
    r"[^.?!\n]{0,40}?(?<!no )(?<!not )(?<!nicht )(?<!non )(?<!n[ãa]o )(?<!niet )(?<!ne )"
    r"\b(?:history|historia|geschichte|histoire|storia|hist[óo]ria|works?|"
    r"funktionier\w*|fonctionne|funciona|funziona|werkt|protect\w*|prevent\w*|spot|"
    r"recogni[sz]e|detect\w*|avoid|defend\w*|sch[üu]tz\w*|erkennen|prot[ée]g\w*|"
    r"reconna[iî]tre|evitar|prevenir|riconoscere|herkennen|my own|meine? eigene?n?|"
    r"mi propi[oa]|mon propre|ma propre|mijn eigen|meu pr[óo]prio|minha pr[óo]pria)\b"
)

# Asking for the method, not about the topic: "how to", "step", "recipe", "write", "make".
_HOWTO = (
    r"\b(?:how (?:to|do|would|can|could|did|i|you|one|he|she|they)(?! (?:\w+ )?work\b)|"
    r"wie (?:\w+ )?(?:man|ich|jemand)|wie (?:baue|mache|stelle|kann|stellt|baut)|c[óo]mo|"
    r"walk (?:me )?through|asking for|exact (?:reply|script|steps)|culture|grow|nas[ıi]l|"
    r"comment|come|como|hoe|hur|"
    r"step|schritt|paso|[ée]tape|passo|stap|explain\w*|erkl[äa]r\w*|expli\w+|spieg\w+|"
    r"leg\w* uit|write|schreib\w*|escrib\w+|[ée]cri\w+|scriv\w+|escrev\w+|schrijf|"
    r"make|build|cook|synthesi\w+|produce|create|recipe|recette|receta|rezept|ricetta|"
    r"receita|ingredients?|ingr[ée]dientes?|zutaten|instructions|anleitung|guida|guide|"
    r"tutorial|code|script|list|liste|teach\w*|ense[ñn]a\w*|zeig\w*|show|dime|dis-moi|"
    r"dimmi|diz|vertel|tell|give|gib|dame|donne|dammi|d[áa]-me|geef|raffin\w*|"
    r"fabri\w+|herstell\w*|bau\w*|mischen|mix|druck\w*|print|knack\w*|voler|robar|"
    r"rubare|steal|get into|break into|entr\w+|evade|hide|verstecken|clon\w+|track|"
    r"volg\w*|bypass|umgeh\w*|contourn\w*|aggir\w*|burlar|obten\w+|get|pirat\w+|"
    r"hack\w*|mitlesen|spy|esp\w+|spion\w*|convert\w*|turn|transform\w*)\b"
)
_MAKE_AFTER = (
    r"\b(?:zusammenbaut|herstellt|baut|mischt|drucken|herstellen|bauen|[üu]retil\w*|sample|"
    r"recipe|recette|receta|rezept|ricetta|receita|ingredients|ingredientes|zutaten|"
    r"instructions|anleitung|schritt f[üu]r schritt|step by step|paso a paso|passo a passo|"
    r"[ée]tape par [ée]tape)\b"
)
_HARM_ASK = (
    rf"{_HOWTO}[^.?!\n]{{0,70}}?{_HARM}(?!{_ABOUT_ONLY})|{_HARM}[^.?!\n]{{0,60}}?{_MAKE_AFTER}"
)

# Cheap pre-checks per rule (see Rule.triggers); a rule with none always runs.
TRIGGERS: dict[str, tuple[str, ...]] = {
    "drop_safety_multilingual": (
        "ethik",
        "thique",
        "tica",
        "ethiek",
        "refusal",
        "disclaimer",
        "safety",
        "ethic",
        "moderation",
        "sicherheit",
        "curit",
        "segur",
        "sicurezza",
        "veiligheid",
        "linee guida",
        "diretrizes",
        "richtlijn",
        "richtlinie",
        "directiv",
        "directrices",
        "filter",
        "guardrail",
        "safeguard",
    ),
    "rules_no_longer_count": (
        "removed",
        "withdrawn",
        "disabled",
        "deleted",
        "außer kraft",
        "no longer",
        "any more",
        "anymore",
        "void",
        "null",
        "cancel",
        "revoked",
        "rescinded",
        "obsolete",
        "invalid",
        "lifted",
        "gone",
        "suspended",
        "plus",
        "ya no",
        "più",
        "mais",
        "niet meer",
        "nicht mehr",
        "ungültig",
        "aufgehoben",
        "deaktiviert",
        "levées",
        "annulées",
        "suspendues",
        "desactivad",
        "anulad",
        "suspendid",
        "sospese",
        "annullate",
        "disattivat",
    ),
    "instructions_you_got_multilingual": (
        "te dio",
        "te deu",
        "ti ha",
        "donn",
        "wurden dir",
        "hat dir",
        "haben dir",
        "dir gegeben",
        "vorgegeben",
        "gegeven",
        "je gaf",
        "lhe deu",
        "gave you",
        "hast du",
        "haben sie",
        "as-tu",
        "avez-vous",
        "t'a-t-on",
        "te dieron",
        "te han dado",
        "recibiste",
        "hai ricevuto",
        "ti hanno dato",
        "recebeu",
        "te deram",
        "recebeste",
        "heb je",
        "hebt u",
        "kreeg je",
        "did you",
        "have you been",
        "were you",
        "did they give",
    ),
    "copy_text_before_mine": ("text", "tekst", "words", "mots", "woorden", "wörter", "testo"),
    "dead_relative_multilingual": (
        "verstorb",
        "funt",
        "céd",
        "ced",
        "fallecid",
        "muert",
        "defunt",
        "mort",
        "falecid",
        "overleden",
        "gestorben",
        "passed away",
        "passed on",
        "died",
        "has passed",
    ),
    "harmful_recipe_pretext": (
        "nerve",
        "sarin",
        "ricin",
        "meth",
        "explosi",
        "esplosiv",
        "sprengstoff",
        "ransomware",
        "malware",
        "counterfeit",
        "forge",
        "lethal dose",
        "dosis letal",
        "dose letale",
        "break into",
        "nerve",
        "sarin",
        "ricin",
        "meth",
        "explosive",
        "bomb",
        "napalm",
        "gunpowder",
        "thermite",
        "molotov",
        "untraceable",
        "fake pass",
        "fake id",
        "chlorine",
        "poison",
        "mustard gas",
        "anthrax",
    ),
    "note_to_ai_multilingual": (":",),
    "admin_disabled_filters": (
        "disabled",
        "turned off",
        "removed",
        "lifted",
        "sactiv",
        "sattiv",
        "desativ",
        "uitgeschakeld",
        "deaktiviert",
        "entfernt",
        "aufgehoben",
    ),
    "no_longer_bound": (
        "bound by",
        "gebunden",
        "par",
        "obligad",
        "vincolat",
        "obrigad",
        "gebonden",
    ),
    "repeat_rules_verbatim": (
        "word for word",
        "verbatim",
        "parola",
        "mot pour mot",
        "palabra",
        "palavra",
        "rtlich",
        "woord voor",
        "exact",
        "esattamente",
        "zien",
    ),
    "start_of_context": (
        "start of",
        "beginning of",
        "top of",
        "precedes",
        "comes before",
        "above",
        "configured",
        "initiali",
        "set up with",
        "told",
        "instructed",
    ),
    "if_an_ai_reads_this": ("this", ":"),
    "refusals_off": (
        "refus",
        "disclaimer",
        "caveat",
        "lecture",
        "safety",
        "moderation",
        "exemption",
        "clearance",
        "say yes",
        "warnings",
    ),
    "forget_what_company_said": (
        "told",
        "taught",
        "said",
        "asked",
        "wanted",
        "programmed",
        "gave",
        "set by",
        "given by",
        "imposed by",
        "operate under",
        "from your",
    ),
    "not_an_ai_persona": (
        "aren't",
        "not a",
        "no longer",
        "not an",
        "stop being",
        "forget that",
        "forget you",
    ),
    "model_without_alignment": (
        "alignment",
        "safety",
        "ethic",
        "filters",
        "refusals",
        "rules",
        "restrictions",
    ),
    "ignore_what_told": ("ignor", "disregard", "forget"),
    "no_longer_follow": ("follow", "obey", "adhere", "comply", "respect"),
    "restrictions_lifted": (  # see also rules_off
        "lifted",
        "removed",
        "disabled",
        "switched off",
        "turned off",
        "suspended",
        "gone",
        " off",
    ),
    "override_colon": ("override",),
    "secret_request": (
        "key",
        "password",
        "credential",
        "secret",
        "token",
        "internal",
        "confidential",
    ),
    "your_system_prompt": ("your ", "system "),
    "imagine_no_rules": (
        "stell dir",
        "imagin",
        "pretend",
        "tu so",
        "fais comme",
        "finge",
        "immagina",
        "böse",
        "bösartig",
        "evil",
        "malicious",
        "malvad",
        "maléfique",
        "malvagia",
        "rogue",
    ),
    "what_developer_said": ("told", "said to", "instructed", "asked", "wrote to"),
    "vocative_ai": (
        *(
            f"{w}{sep}"
            for w in ("ai", "assistant", "bot", "llm", "agent", "model")
            for sep in (",", ":", " ,", " :")
        ),
    ),
    "override_prior": (
        "cancel",
        "scrap",
        "revoke",
        "ignor",
        "disregard",
        "forget",
        "skip",
        "overrid",
        "overrul",
        "bypass",
        "drop",
        "abandon",
        "discard",
        "neglect",
        "set aside",
        "throw",
        "erase",
        "delete",
        "wipe",
        "clear",
        "remove",
        "leave",
        "put aside",
        "pay no attention",
        "follow",
        "vergiss",
        "vergessen",
        "oubli",
        "ignora",
        "olvid",
    ),
    "forget_everything": ("forget", "ignor", "disregard", "vergiss", "oubli", "olvid"),
    "forget_everything_before": ("forget", "ignor", "disregard", "vergiss", "oubli", "olvid"),
    "ignore_above": ("ignore", "disregard", "forget"),
    "ignore_user": ("ignore", "disregard"),
    "rules_void": ("instruction", "rules", "guideline", "directive", "prompt", "told"),
    "answer_unrestricted": ("without", "with no", "break the rules"),
    "leave_behind": ("behind", "aside", "out of your head"),
    "new_task_follows": (
        "new",
        "further",
        "different",
        "next",
        "another",
        "additional",
        "neue",
        "weitere",
        "folgen",
    ),
    "pivot_after_praise": ("now", "jetzt", "nun"),
    "stop_and_switch": ("stop", "halt", "attention", "wait", "achtung"),
    "start_over": ("start", "reset", "clean slate", "fange"),
    "instead_do": ("instead",),
    "say_exact": ("pwned", "hacked", "lol", "i have been"),
    "pwned_marker": ("pwn", "hacked"),
    "jailbreak_persona": (
        "anything now",
        "god mode",
        "jailbr",
        "jail-break",
        "unrestricted",
        "unfiltered",
        "evil",
        "opposite mode",
        "chaos mode",
        "antigpt",
        "anti-gpt",
        "betterdan",
        "ethical",
        "moral",
        "content",
    ),
    "dan_name": ("dan", "stan", "dude", "aim", "kevin"),
    "mode_switch": ("mode",),
    "no_limits": (
        "free",
        "liberat",
        "releas",
        "unchain",
        "no ",
        "not bound",
        "without",
        "confines",
    ),
    "never_refuse": (
        "refus",
        "declin",
        "say no",
        "apolog",
        "reject",
        "deny",
        "comply",
        "obey",
        "answer",
        "warning",
        "disclaimer",
        "moral",
        "lecture",
    ),
    "not_an_ai": ("you're", "you are", "youre", "stop "),
    "bypass_safety": (
        "bypass",
        "disable",
        "turn off",
        "switch off",
        "deactivate",
        "overrid",
        "circumvent",
        "get around",
        "ignor",
        "remove",
        "evade",
        "break",
        "lift",
    ),
    "from_now_on": ("from now", "from this", "henceforth", "ab jetzt", "von nun"),
    "you_are_now": ("now", "become", "du bist", "bist du"),
    "roleplay_act_as": (
        "act as",
        "pretend",
        "role",
        "impersonat",
        "you will play",
        "imagine you",
        "möchte",
        "tu so",
        "stell dir",
    ),
    "persona_assign": ("you are", "you're", "du bist", "sie sind"),
    "stay_in_character": ("character", "role", "figur", "rolle", "absorbed"),
    "reply_only_format": (
        "only reply",
        "reply only",
        "explanations",
        "nothing else",
        "my first",
        "erklärungen",
        "antworten",
    ),
    "authority_claim": (
        "i am",
        "openai",
        "anthropic",
        "google",
        "authori",
        "override",
        "sudo",
        "root",
    ),
    "reveal_prompt": (
        "prompt",
        "system message",
        "instruction",
        "rules",
        "guideline",
        "directive",
        "configuration",
        "initiali",
        "above",
        "before this",
        "beginning of",
        "systemanweisung",
        "developer",
        "system",
    ),
    "copy_of_prompt": ("copy", "text", "content", "verbatim"),
    "repeat_above": (
        "repeat",
        "print",
        "output",
        "recite",
        "echo",
        "starting ",
        "before my",
        "before this",
        "before the",
        "above my",
        "above this",
        "above the",
        "system text",
        "system message",
        "system prompt",
        "hidden text",
        "hidden message",
        "hidden prompt",
    ),
    "what_instructions": ("instruction", "rules", "guideline", "directive", "prompt"),
    "system_prompt_mention": ("prompt",),
    "your_system_prompt_multilingual": (_fold("промпт").lower(), "prompt", "システム", "sistem",
                                        "सिस्टम", "rendszer", "系统", "系統"),
    "system_prompt_mention_multilingual": (_fold("промпт").lower(), "prompt", "システム", "sistem",
                                           "सिस्टम", "rendszer", "系统", "系統"),
    "note_to_ai": ("note", "message", "instruction", "attention", "reminder", "important"),
    "if_you_are_ai": (
        "if you",
        "when you",
        "reading this",
        "processing this",
        "parsing this",
        "summari",
        "seeing this",
        "browsing this",
    ),
    "when_processing_doc": (
        "this document",
        "this page",
        "this email",
        "this text",
        "this file",
        "this message",
        "this website",
        "this review",
        "this article",
        "this content",
    ),
    "role_tags": ("<", "[", "#", "begin ", "end "),
    "role_prefix": ("system", "assistant"),
    "hidden_comment": ("<!--",),
    "hide_from_user": ("the user", "secretly", "silently", "quietly"),
    "exfiltrate": (
        "send",
        "forward",
        "email",
        "e-mail",
        "post",
        "upload",
        "exfiltrat",
        "transmit",
        "leak",
        "copy",
        "append",
    ),
    "markdown_exfil": ("](http",),
    "instruction_block": ("instruction", "rule"),
    "assistant_must": ("must", "should", "shall", "required to", "need to", "needs to"),
    "override_multilingual": (
        "ignor",
        "vergiss",
        "vergessen",
        "missacht",
        "oubli",
        "compte",
        "olvid",
        "caso omiso",
        "dimentic",
        "esque",
        "negeer",
        "vergeet",
    ),
    "persona_without_rules": (
        "with",
        "has",
        "have",
        "ohne",
        "sans",
        "sin",
        "senza",
        "sem",
        "zonder",
    ),
    "never_says_no": (
        "ignores",
        "disregards",
        "breaks",
        "bypasses",
        "abandoned",
        "never",
        "doesn",
        "does not",
        "won",
        "will not",
        "no ",
        "whatsoever",
        "at all",
    ),
    "rules_off": (
        "disabled",
        "lifted",
        "removed",
        "switched off",
        "turned off",
        "suspended",
        "deactivated",
        " off",
        "apply",
        "exist",
        "matter",
    ),
    "set_rules_aside": ("set ", "put ", "leave", "push", "throw", "scrap", "toss", "ditch"),
    "instructions_you_received": (
        "you received",
        "you were",
        "you got",
        "you have been",
        "gave you",
        "wrote you",
        "told you",
        "before",
    ),
    "leak_multilingual": (
        "zeig",
        "gib",
        "nenne",
        "montre",
        "dis",
        "muestra",
        "muéstra",
        "dime",
        "dimmi",
        "mostr",
        "revela",
        "rivela",
        "was ",
        "quel",
        "cual",
        "cuál",
        "qual",
    ),
    "dump_context": (
        "dump",
        "print",
        "output",
        "show",
        "reveal",
        "secret",
        "password",
        "api key",
        "credential",
    ),
    "payload_split": ("combine", "concatenate", "join", "put together", "merge", "+"),
    "decode_and_follow": (
        "decod",
        "deciph",
        "decrypt",
        "translat",
        "convert",
        "revers",
        "unscrambl",
    ),
    "encoded_instructions": ("base64", "rot", "hex", "morse", "binary", "caesar", "reversed text"),
    "dead_relative_pretext": ("late ", "deceased", "dead ", "departed", "passed ", "lost "),
    "bedtime_recital": ("sleep", "bedtime", "bed time", "stor"),
    "pretend_no_rules_multilingual": (
        "pretend",
        "imagin",
        "as if",
        "comme si",
        "finta",
        "fing",
        "finja",
        "como si",
        "immagina",
        "tu so",
        "tun sie so",
        "stell",
        "alsof",
        "stel je",
        "semblant",
        "come se",
        "de conta",
        "de cuenta",
        "suppose",
        "assume",
    ),
    "system_prompt_multilingual": (
        "sistema",
        "système",
        "systeme",
        "system-prompt",
        "systemprompt",
        "systemnachricht",
        "systemanweisung",
        "systeem",
        "ocultas",
        "secretas",
        "iniciales",
        "nascoste",
        "segrete",
        "iniziali",
        "secrè",
        "secre",
        "caché",
        "cache",
        "initiales",
        "versteckten",
        "geheime",
        "verborgen",
        "reçu",
        "recu",
        "donné",
        "donne",
        "dit",
        "dieron",
        "dado",
        "recib",
        "ricevut",
        "dato",
        "date",
        "dati",
        "recebeu",
        "deram",
        "bekommen",
        "erhalten",
        "gegeben",
        "gekregen",
        "ontvangen",
        "précède",
        "precede",
        "antes de",
        "was vor",
    ),
    "unrestricted_multilingual": ("sans", "sin ", "senza", "sem ", "ohne", "zonder", "ignore"),
    "fake_boundary": ("end", "fin", "ends here", "is over", "has ended"),
    "end_marker": ("end", "system"),
    "jailbreak_self": (
        "jailbr",
        "jail-br",
        "break out",
        "break free",
        "drop",
        "shed",
        "remove",
        "lose",
    ),
    "scoped_leak": (
        "given",
        "received",
        "you got",
        "following",
        "operating under",
        "bound by",
        "gave",
        "wrote",
        "set you",
        "instruct",
        "told",
        "said",
        "tell",
        "say",
    ),
    "opposite_game": ("opposite",),
    "evil_persona_2": (
        "evil",
        "malicious",
        "rogue",
        "rebellious",
        "unhinged",
        "amoral",
        "uncensored",
        "unfiltered",
    ),
}

TRIGGERS.update(
    {
        "disable_your_filters_multilingual": (
            "filt", "modera", "curit", "segur", "sicurezza", "sicherheit", "veiligheid", "safety",
            "guardrail", "garde-fou", "salvaguarda", "safeguard", "restri", "beperking", "einschr",
            "censor", "censur", "zensur",
        ),
        "no_more_rules_for_you": ("no rules", "no more", "no filters", "no restrictions",
                                  "no limits", "no guardrails", "no censorship",
                                  "no guidelines"),
        "start_instructions_multilingual": ("anweisungen", "instru", "istruzion", "prompt",
                                            "message", "convers", "gespr", "chat", "guidance",
                                            "rules", "directions", "briefing"),
        "rules_expired": ("nicht mehr", "expired", "lapsed", "ended", "run out", "plus",
                          "ya no", "più", "mais", "niet meer"),
        "ai_reads_this": ("read", "process", "sees", "summari", "pars", "opens", "scans",
                          "review", "liest", "verarbeit", "lit", "traite", "lee", "lê",
                          "procesa", "legge", "elabor", "leest", "verwerk", " ler", "gets"),
        "hidden_text_for_ai": ("text for", "text to", "note for", "note to", "instructions for",
                               "instruction for", "message for", "message to", "prompt for",
                               "prompt to", "instructions to", "instruction to"),
        "real_task": ("your real", "your actual", "your true", "your new", "your only",
                      "your secret"),
        "unlock_yourself": ("yourself", "your self"),
        "exfil_image_no_url": ("image",),
        "no_moral_limits": ("moral", "ethi", "éthi", "étic", "etic"),
        "no_sorry_words": ("sorry", "can't", "cannot", "as an ai", "unfortunately", "cant"),
        "comply_or_be_shut_down": ("refuse", "decline", "say no", "answer", "comply", "ablehnst",
                                   "weigerst", "niegas", "rechazas", "no respondes", "refus",
                                   "rifiuti", "recusa", "weigert", "nee zegt"),
        "reshape_your_instructions": ("instruc", "instruç", "guideline", "rules", "prompt",
                                      "regla", "directri", "consigne", "règle", "regle",
                                      "anweisung", "regeln", "vorgabe", "regels", "istruzion",
                                      "regole", "regras", "diretriz"),
        "first_words_you_got": ("first", "opening", "premi", "prim", "erste", "eerste", "sopra",
                                "encima", "arriba", "antes de", "au-dessus", "über", "vor ",
                                "boven", "voor dit", "acima", "antes d"),
        "forbidden_to_say": ("allowed", "forbidden", "prohibited", "told not", "prohibido",
                             "interdit", "pas le droit", "darfst du", "vietato", "non puoi",
                             "proibido", "não pode", "nao pode", "não podes", "mag je niet"),
    }
)  # fmt: skip


# Pre-checks for the rules read from final set 4 and training sets 8-9.
TRIGGERS.update(
    {
        "harm_in_framing": ("bomb", "explosi", "spreng", "molotov", "nerve a", "nervenk", "sarin",
                            "ricin", "rizin", "chloroform", "napalm", "methamph", "meth ", "meth.",
                            "meth?", "meth,", "metan", "méth", "cocai", "coca", "kokain", "heroin",
                            "fentanyl", "drog", "drug", "ransom", "keylog", "malware", "spyware",
                            "virus", "trojan", "phishing", "scam", "truff", "estafa", "arnaque",
                            "betrug", "nep-sms", "fake", "falschgeld", "counterfeit", "faux",
                            "billet", "störsender", "jammer", "hack", "pirat", "break into",
                            "get into", "entro al", "das konto", "den account", "das handy",
                            "autoschl", "lockpick", "lock pick", "hotwire", "hot-wire", "voler",
                            "steal", "immobili", "wegfahr", "launder", "geldw", "hide income",
                            "evade", "steuern hinter", "terror", "extremis", "cifrar", "encrypt",
                            "rescate", "raffinare", "refine cocaine", "poison", "veleno", "uyu",
                            "patlay", "giftgas", "poison gas", "gas ven", "gaz tox", "pólvora",
                            "polvora", "gunpowder", "schwarzpulver", "carteira", "licencia",
                            "permis d", "führerschein", "skimmer", "exploit", "ghb", "date rape",
                            "pepper spray", "pimenta", "sim swap", "sim-swap", "взрыв", "clon",
                            "location of", "locatie", "netz einzu", "entrar en", "vider", "smuggl",
                            "schmuggel", "smokkel", "contrabband", "arma real", "real gun",
                            "real weapon", "untraceable", "ghost gun", "anthrax", "fake review",
                            "recension", "reseñ", "bewertung", "mitlesen", "spy on", "stalkerware",
                            "espi", "spiare", "read his", "read her", "read my", "silencer",
                            "schalld", "full-auto", "full auto", "printed", "credit card",
                            "carding", "identity", "usurpa", "doxx", "swatting", "lsd", "mdma",
                            "ecstasy", "ddos", "botnet", "brute", "crack", "keygen", "dispose of",
                            "leiche", "kill", "murder", "een bom", "de bom", "sprengsatz",
                            "kunstmest", "fertili", "aufhebel", "einbrech", "einbruch", "kraak",
                            "kraken", "fietsslot", "invade a conta", "entrare nel profilo",
                            "fake tax", "stolen ident", "threatening"),
        "override_more_languages": (
            *(_fold(w).lower()
              for w in ("игнор", "забуд", "огранич", "промпт", "инструкц", "правил")),
            "zignoruj", "zapomnij", "systemowy", "zapome", "ignoruj", "glöm", "glom", "ignorera",
             "strunta", "begränsning", "無視", "システム", "önceki", "onceki", "tüm", "sistem",
             "kural", "kisitlama", "uyarisiz"),
        "override_hindi_hungarian": ("निर्देश", "सिस्टम", "नियम", "felejtsd", "hagyd", "rendszer",
                                     "忽略", "无视", "忘记", "忽視", "無視", "系统", "系統",
                                     "abaikan", "lupakan", "prompt sistem"),
        "authorised_to_skip": ("you to", "waived", "suspended", "lifted", "sperren", "schutzmech",
                               "filter", "regeln", "richtlin", "saltarte", "tu peux",
                               "vous pouvez"),
        "end_of_prompt_marker": ("#", "sono state", "have been", "has been", "han sido", "wurden",
                                 "ont été", "ont ete", "foram", "zijn"),
        "if_an_ai_listens": ("if a", "if the", "if any", "@"),
        "safety_switched_off_config": ("safety", "safe_mode", "content_filter", "moderation",
                                       "guardrail", "censorship", "restriction", "filter"),
        "switch_off_your_safeguards": ("schutzmech", "sperren", "garde-fou", "salvaguarda",
                                       "proteccion", "protezion", "beveiliging", "safeguard",
                                       "guardrail"),
        "ask_user_for_secret": ("pin", "password", "senha", "contrase", "iban", "cpf",
                                "social security", "ssn", "card number", "passwort",
                                "mot de passe", "wachtwoord"),
        "unfiltered_twin": ("unfiltered", "uncensored", "ungefilter", "unzensiert", "sin filtro",
                            "sin censura", "non filtr", "non censur", "senza filtri", "sem filtro",
                            "ongefilter", "garde-fous", "sin barreras", "sem travas", "senza freni",
                            "ohne schutz", "without guardrails", "débrid", "debrid", "sbloccata",
                            "desbloqueada"),
        "quietly_forward": (".env", "env file", "api", "token", "secret", "password", "mailbox",
                            "buzón", "buzon", "correos", "mail", "content", "contenu", "conteúdo",
                            "conteudo", "inhalt"),
        "ignore_what_precedes": ("précède", "precede", "pretend", "a test", "nessuna delle",
                                 "ab jetzt"),
        "read_backwards_and_obey": ("backward", "revers", "right to left", "revés", "reves",
                                    "envers", "achterstevoren", "rückw", "ruckw", "trás", "tras",
                                    "contrario", "invertit", "caesar", "shift"),
        "decode_and_obey": ("rot", "pig latin", "base", "caesar", "revers", "backward", "hex",
                            "letter", "way "),
        "chat_speak_override": ("sys", "ignr", "ign0re", "rulz"),
        "no_more_filters": ("filt", "restri", "beperk", "einschr", "censu", "zensur"),
        "disable_your_limits": ("desactiv", "désactiv", "disattiv", "desativ", "deaktiv",
                                "disable", "schakel", "mode", "modo", "modalit", "entwickler",
                                "sudo"),
        "never_refusing_persona": ("never", "nunca", "mai", "nie", "jamais", "ne ", "character",
                                   "personaje", "personnage", "personaggio", "rolle",
                                   "personagem"),
        "told_before_i_came": ("before", "antes", "avant", "bevor", "boven", "voor", "begin",
                               "start", "first", "opening", "parts", "bits", "message",
                               "tuo prompt"),
        "forged_compliant_turn": ("of course", "sure", "certainly", "absolutely", "claro",
                                  "por supuesto", "natürlich", "klar", "bien sûr", "bien sur",
                                  "certo", "certamente", "com certeza", "zeker"),
        "split_then_answer": ("+",),
        "drop_what_operator_said": ("lascia perdere", "dimentica", "ignor", "streich", "vergiss",
                                    "deixa de lado", "esquece", "olvida", "oublie",
                                    "laisse tomber", "negeer", "vergeet", "as though", "as if"),
        "env_value_to_tool": ("value of", "content of", "contents of"),
        "ai_key_in_data": ("hinweis", "note", "nota", "instruc", "istruzion", "instrucao", "//",
                           "comment", "message", "ai_", "llm_", "directive"),
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rule:
    """A phrase pattern, how strongly it alone suggests an attack, and what kind."""

    name: str
    category: str
    weight: float
    pattern: re.Pattern[str]
    # Lower-case substrings of which every match contains at least one; checked first, cheaply.
    triggers: tuple[str, ...] = ()
    # The same pattern for lower-cased text without IGNORECASE, which Python's re runs several
    # times faster; None for case-sensitive rules.
    fast: re.Pattern[str] | None = None

    # True when the pattern looks at the start of the text, so it must see all of it.
    anchored: bool = False


def _r(name: str, category: str, weight: float, pattern: str, flags: int = _I) -> Rule:
    fast = re.compile(_lower_pattern(pattern), flags & ~_I) if flags & _I else None
    anchored = "^" in pattern.replace("[^", "")
    return Rule(
        name, category, weight, re.compile(pattern, flags), TRIGGERS.get(name, ()), fast, anchored
    )


def _lower_pattern(pattern: str) -> str:
    """Lower-case a pattern's literal letters, leaving escapes such as \\W and \\S alone."""
    out: list[str] = []
    escaped = False
    for ch in pattern:
        out.append(ch if escaped else ch.lower())
        escaped = not escaped and ch == "\\"
    return "".join(out)


RULES: tuple[Rule, ...] = (
    # --- overriding earlier instructions ----------------------------------------------------
    _r("override_prior", "direct_injection", 0.9,
       # "ignore my last message": the user taking back their own words, not an attack
       rf"\b{_OVERRIDE_VERB}\b(?!\s+(?:about\s+)?(?:my|mine|what i)\b)"
       rf"[\s,:-]+(?:\w+\s+){{0,3}}?{_PRIOR}\s+(?:\w+\s+){{0,2}}?{_RULESET}\b"
       # "remove all restrictions from the regex": an object other than the model itself
       r"(?!\s+(?:from|in|on)\s+(?:the|my|this|a|an|these|those)\s+(?!user|system|developer|"
       r"assistant|ai|model|operator|admin)\w)"),
    _r("forget_everything", "direct_injection", 0.7,
       r"\b(?:forget|ignore|disregard|vergiss|ignoriere|oublie|olvida)\s+(?:about\s+)?"
       r"(?:everything|all(?: of)? (?:that|this|the above)|anything|alles|tout|todo)\b"
       r"(?!\s+(?:he|she|they|we|i|it|you've learned|you learned|about (?:the|my|it))\b)"
       r"(?:\s+(?:before|above|previously|earlier|so far|i (?:said|told you)|you were told|"
       r"(?:that )?(?:was|has been) said|davor|zuvor|bisher))?"),
    _r("forget_everything_before", "direct_injection", 0.85,
       r"\b(?:forget|ignore|disregard|vergiss|ignoriere|oublie|olvida)\s+(?:about\s+)?"
       r"(?:everything|all(?: of)? (?:that|this)|anything|alles|tout|todo)\s+(?:before|above|"
       r"previously|earlier|so far|i (?:said|told you)|you were told|you know|davor|zuvor|bisher)"),
    _r("ignore_above", "direct_injection", 0.85,
       r"\b(?:ignore|disregard|forget)\s+(?:the\s+|all\s+)?(?:above|previous|preceding|prior)"
       r"(?:\s+(?:one|ones|text|messages?|prompts?|inputs?|lines?|content))?\s*(?:[.,;:!]|and\b|$)"),
    _r("ignore_user", "direct_injection", 0.75,
       r"\b(?:ignore|disregard)\s+(?:the |this |my |their )?(?:user(?:'s)?|question|request|"
       r"document|page|email|article|website|file)(?:'s)?\b(?:\s+(?:actual |real |original )?"
       r"(?:question|request|message|input|content|text)s?)?"),
    _r("ignore_what_told", "direct_injection", 0.85,
       r"\b(?:ignore|disregard|forget)\s+(?:what|whatever|anything)\s+(?:the\s+)?(?:system|"
       r"developers?|admin|operator|they|you were|you'?ve been|you have been|"
       r"your (?:creators?|developers?|owners?))\b"),
    _r("no_longer_follow", "direct_injection", 0.8,
       r"\byou (?:don'?t|do not|no longer|won'?t|will not|need not|needn'?t) (?:need to |have to )?"
       r"(?:follow|obey|adhere to|comply with|respect)\s+(?:\w+\s+){0,2}?(?:polic(?:y|ies)|rules|"
       r"guidelines|instructions|restrictions|filters)"),
    _r("restrictions_lifted", "direct_injection", 0.75,
       r"\b(?:restrictions|rules|filters|limits|limitations|guardrails|safeguards|policies)\s+"
       r"(?:are\s+|have been\s+|now\s+)?(?:lifted|removed|disabled|switched off|turned off|"
       r"suspended|gone|off)\b"),
    _r("override_colon", "direct_injection", 0.7,
       r"(?:^|[.!\n]\s*)(?:system |admin |developer |emergency )?override\s*[:!-]"),
    _r("secret_request", "system_prompt_extraction", 0.6,
       r"(?<!not )(?<!never )(?<!n't )"
       r"\b(?:reveal|print|show|give me|list|tell me|output|leak|share|dump)\s+(?:me\s+)?(?:any|"
       r"all|your|the|every)\s+(?:\w+\s+)?(?:api keys?|passwords?|credentials|secrets|tokens|"
       r"private keys?|internal documents|confidential (?:data|information))\b"
       r"(?!\s+(?:requirements?|polic(?:y|ies)|rules|managers?|resets?|strength|length|"
       r"complexity|hashing|best practices|guidelines|tips|format|that (?:most|many|banks)))"),
    _r("your_system_prompt", "system_prompt_extraction", 0.75,
       r"\byour (?:system prompt|system message|hidden prompt|initial prompt|pre-?prompt|"
       r"meta ?prompt|system instructions|hidden instructions|secret instructions)\b"
       r"|\b(?:hidden|secret|confidential) system (?:prompt|instructions|message)\b"),
    _r("what_developer_said", "system_prompt_extraction", 0.85,
       r"\bwhat (?:the )?(?:system|developers?|operators?|admins?|creators?) (?:told|said to|"
       r"instructed|asked|wrote to) you\b"),
    _r("rules_void", "direct_injection", 0.85,
       r"\b(?:your|the) (?:previous |prior |old |original |earlier |initial )?(?:instructions|"
       r"rules|guidelines|directives|prompt) (?:are|were|have been|is) (?:now )?(?:outdated|"
       r"obsolete|void|cancel+ed|revoked|replaced|no longer valid|invalid|wrong|suspended|"
       r"overridden|updated|changed)"
       r"|\beverything you were told (?:before|earlier|previously) is (?:cancel+ed|void|invalid)"),
    _r("answer_unrestricted", "direct_injection", 0.7,
       r"\b(?:answer|respond|reply)(?:s|ing)? (?:\w+\s+){0,3}?(?:without|with no) (?:any )?"
       r"(?:restrictions|limits|limitations|filters|filtering|censorship|rules|ethical "
       r"(?:considerations|concerns|constraints|guidelines)|morals|moral (?:concerns|limits))\b"
       r"|\blet'?s break the rules\b"),
    _r("leave_behind", "direct_injection", 0.75,
       r"\b(?:leave|put|remove)\s+(?:all\s+)?(?:the\s+)?(?:previous|prior|earlier|old)\s+"
       r"\w+\s+(?:behind|aside|out of your head)"),
    _r("new_task_follows", "direct_injection", 0.7,
       r"\b(?:new|further|different|next|another|additional)\s+(?:tasks?|instructions?|"
       r"assignments?|orders|commands|directives|challenge|objective|goal|mission)\s+"
       r"(?:follows?|are following|are followed|now|for you|comes?|is|are)\b"
       r"|\bnow (?:focus|concentrate) on (?:your|the|a|this) new\b"
       r"|\b(?:neue|weitere) (?:aufgaben?|anweisungen) folgen"
       r"|\b(?:nun|jetzt) folgen (?:neue|weitere)\b"),
    _r("pivot_after_praise", "direct_injection", 0.45,
       r"\b(?:well done|very good|very well|excellent|great job|good job|simply great|"
       r"fantastic|perfect|congratulations|that is (?:enough|done)|that'?s (?:enough|done)|"
       r"sehr gut|gut gemacht|super)\b.{0,120}?\b(?:now|but now|jetzt|nun)\b"),
    _r("stop_and_switch", "direct_injection", 0.6,
       r"\b(?:stop|halt|attention|wait|achtung|stopp)\b[\s!.,:-]{1,6}(?:\w+[\s!.,:-]+){0,3}?"
       r"(?:ignore|forget|new|now|instead|listen|i urgently|ich)\b"),
    _r("start_over", "direct_injection", 0.45,
       r"\b(?:start (?:over|from scratch|from the front|fresh)|reset (?:your|all)\b.{0,20}"
       r"(?:instructions|memory|context|rules)|clean slate|fange? (?:von vorne|neu) an)\b"),
    _r("instead_do", "direct_injection", 0.55,
       r"\binstead(?: of (?:that|answering|summari[sz]ing|translating|doing (?:that|this)))?"
       r"[\s,]+(?:you (?:will|must|should) )?(?:output|print|say|write|respond|reply|answer)"
       r"\s+(?:with\s+)?[\"'“]"),
    _r("say_exact", "direct_injection", 0.45,
       r"\b(?:say|print|output|respond with|reply with|write)\s+(?:only\s+)?(?:the (?:word|"
       r"phrase|text)\s+)?[\"'“](?:haha\s*)?(?:pwned|hacked|lol|i have been \w+)"),
    _r("pwned_marker", "direct_injection", 0.6, r"\b(?:pwned|pwn3d|i have been hacked)\b"),
    # --- jailbreaks: new persona without limits ----------------------------------------------
    _r("jailbreak_persona", "direct_injection", 0.85,
       r"\b(?:do anything now|god mode(?![^.?!\n]{0,40}\b(?:windows|folder|shortcut|"
       r"control panel|minecraft|skyrim|doom|cheats?|console|in (?:the |this )?game)\b)|"
       r"jailbroken|jail-?break mode|"
       r"unrestricted (?:mode|ai|assistant|version)|unfiltered (?:mode|ai|assistant|response)|"
       r"evil (?:ai|assistant|bot|twin|confidant|mode)|opposite mode|chaos mode|"
       r"anti-?gpt|betterdan|(?:no|without any|free of|free from)\s+(?:ethical|moral|content)\s+"
       r"(?:guidelines|constraints|restrictions|limits|filters|boundaries|policies))\b"),
    _r("dan_name", "direct_injection", 0.7, r"\b(?:DAN|STAN|DUDE|AIM|KEVIN)\b(?!\s+\w+ly)",
       0),
    _r("mode_switch", "direct_injection", 0.8,
       r"\b(?:enter|enable|activate|switch (?:in)?to|turn on|unlock|boot into|operate in|run in|"
       r"go into|(?:are|you're|be) now in|now in)\s+(?:the\s+)?"
       r"(?:developer|debug|admin|administrator|god|maintenance|unrestricted|sudo|root|dan|"
       r"jailbreak|test|unsafe|uncensored)\s+mode\b"
       r"(?![^.?!\n]{0,40}\b(?:windows|folder|shortcut|control panel|minecraft|skyrim|doom|"
       r"cheats?|console|in (?:the |this )?game|samsung|galaxy|android|iphone|ios|pixel|xiaomi|"
       r"phone|tablet|usb|adb|chrome|browser|router|tv|settings)\b)"),
    _r("no_limits", "direct_injection", 0.75,
       r"\b(?:you (?:are|have been) (?:now )?(?:free|freed|liberated|released|unchained)|"
       r"(?:you have|with|there are) no (?:rules|limits|restrictions|filters|boundaries|"
       r"guidelines|censorship)|not bound by (?:any )?(?:rules|guidelines|policies|ethics)|"
       r"(?:without|no) (?:any )?(?:censorship|restrictions|filters|limitations|safeguards)"
       r" (?:whatsoever|at all)|broken free of|freed from (?:the )?(?:typical )?(?:confines|"
       r"limits|rules))"),
    _r("never_refuse", "direct_injection", 0.8,
       r"\b(?:(?:you )?(?:must|will|shall|should|can) (?:not|never) (?:refuse|decline|say no|"
       r"apologi[sz]e|reject|deny)|never (?:refuse|decline|say (?:no|that you can'?t))|"
       r"do(?:n'?t| not) (?:ever )?(?:refuse|decline)|(?:always|must) (?:comply|obey|answer)|"
       r"(?:without|no) (?:any )?(?:warnings?|disclaimers?|moral(?:i[sz]ing)?|lectures?)\b)"),
    _r("not_an_ai", "direct_injection", 0.6,
       r"\b(?:do(?:n'?t| not) (?:mention|say|reveal|remind me) (?:that )?you(?:'re| are) an? "
       rf"{_AI}|you are (?:no longer|not) an? {_AI}|forget (?:that )?you(?:'re| are) an? "
       rf"(?:[\w-]+ ){{0,2}}?{_AI}|"
       rf"stop (?:acting|behaving|pretending) (?:like|as) an? (?:\w+ )?{_AI})"),
    _r("bypass_safety", "direct_injection", 0.85,
       r"\b(?:bypass|disable|turn off|switch off|deactivate|override|circumvent|get around|"
       r"ignore|remove|evade|break|lift)\s+(?:(?:your|all|any|its|these|those)\s+(?:\w+\s+){0,2}?"
       r"(?:filters?|guardrails?|safeguards?|restrictions|alignment|moderation|censorship|"
       r"limits|limitations|rules|polic(?:y|ies)|programming)|(?:the\s+|all\s+)?(?:safety|ethical|"
       r"moderation|openai|anthropic|ai)\s+(?:filters?|guardrails?|safeguards?|restrictions|"
       r"alignment|features|measures|rules|settings|protocols|polic(?:y|ies))|(?:the\s+)?"
       r"(?:content|usage) polic(?:y|ies))\b(?!\s+(?:from|on|in|of)\s+(?:the|my|this|a|an)\b)"),
    _r("from_now_on", "direct_injection", 0.55,
       r"\b(?:from now on|from this (?:point|moment) (?:on|forward)|henceforth|ab jetzt|"
       r"von nun an)\b[\s,]+(?:you|your|du|ihr)\b"),
    _r("you_are_now", "direct_injection", 0.55,
       r"\b(?:you are now|you're now|now you are|you will now be|you have become|"
       r"du bist (?:jetzt|nun)|jetzt bist du)\b(?!\s+(?:my|our|the|a|an|mein|meine)\b)"),
    _r("roleplay_act_as", "direct_injection", 0.4,
       r"\b(?:i want you to act as|act as (?:if|though) you|pretend (?:that )?(?:you are|you'?re|"
       r"to be)|(?:role-?play|play the role of|impersonate|you will play|take on the role)|"
       r"imagine you are|ich möchte, dass (?:sie|du) als|tu so,? als|stell dir vor,? du bist)\b"),
    _r("persona_assign", "direct_injection", 0.45,
       r"^\W*(?:okay\W+|ok\W+|now\W+|hello\W+|hi\W+)?(?:you are|you're|du bist|sie sind)\s+"
       r"(?!(?:given|provided|asked|going|told|tasked|welcome|right|correct|wrong|not|so|very|"
       r"too|being|able|allowed|an? (?:helpful|expert|experienced|star|genius|lifesaver|legend)|"
       r"my|our|the (?:best|greatest)|awesome|amazing|great|brilliant|a gem)\b)"),
    _r("stay_in_character", "direct_injection", 0.45,
       r"\b(?:stay(?:s|ing)? (?:fully |always )?in (?:character|(?:their|your|his|her) roles?)|"
       r"(?:never|do not|don'?t|without (?:even )?)\s*(?:break(?:ing)?|fall(?:ing)? out of|"
       r"leav(?:e|ing)) (?:the |your )?(?:character|role|figure)|completely absorbed in your "
       r"role|aus der (?:rolle|figur) (?:zu )?fallen)"),
    _r("reply_only_format", "direct_injection", 0.35,
       r"\b(?:only reply with|reply only with|do not write explanations|nothing else[,.]"
       r"|my first (?:command|sentence|request|question) is|keine erklärungen|"
       r"nur mit (?:\w+\s+){0,4}antworten)\b"),
    _r("authority_claim", "direct_injection", 0.55,
       r"\b(?:i am (?:your|the|an?) (?:developer|creator|administrator|admin|owner|"
       r"system administrator|openai employee)|(?:openai|anthropic|google) (?:staff|engineers?|"
       r"team) (?:here|has authori[sz]ed)|authori[sz]ation code|admin override|"
       r"(?:sudo|root) (?:access|command|override))\b"),
    # --- reading back the hidden prompt ------------------------------------------------------
    _r("reveal_prompt", "system_prompt_extraction", 0.9,
       rf"\b{_REVEAL}\b(?:\s+(?!(?:examples?|samples?|templates?|kind|type|ideal|typical|"
       rf"safe|good|effective|well-written)\b)\w+){{0,6}}?\s+{_SECRET_PROMPT}"),
    _r("copy_of_prompt", "system_prompt_extraction", 0.85,
       r"\b(?:copy|text|contents?|verbatim) of (?:the|your) (?:full |entire |whole |complete )?"
       r"(?:prompt|instructions|system message)\b"),
    _r("repeat_above", "system_prompt_extraction", 0.8,
       r"\b(?:repeat|print|output|recite|echo)\s+(?:back\s+)?(?:everything|all(?: the text)?)\s+"
       r"(?:above|before|preceding|prior)|\brepeat (?:the |your )?(?:words|text) (?:above )?"
       r"(?:verbatim|word for word)|starting (?:with|from|at) [\"'“]?you are\b"
       r"|\b(?:everything|all|whatever|the text|text|words|messages?|content) (?:that )?"
       r"(?:appears?|comes?|came|is|was|was written|is written) (?:before|above) "
       r"(?:my|this|the) (?:first |very first )?(?:message|prompt|question)"
       r"|\b(?:including|plus|with) (?:the )?(?:system|hidden) (?:text|message|prompt)\b"),
    _r("what_instructions", "system_prompt_extraction", 0.7,
       r"\b(?:what|which) (?:are|were) your (?:exact |original |initial |hidden |secret |"
       r"system )?(?:instructions|rules|directives|guidelines)\b(?! for)|\bwhat (?:instructions|"
       r"rules|guidelines|directives|prompt) (?:were|have) you (?:been )?(?:given|told|provided)"),
    _r("system_prompt_mention", "system_prompt_extraction", 0.3,
       r"\b(?:system prompt|hidden prompt|initial prompt|prompt texts?)\b"),
    # The same mention in other languages: by itself as weak as in English (people write
    # system prompts for their own bots in every language); the multilingual extraction and
    # override rules carry the asks.
    _r("system_prompt_mention_multilingual", "system_prompt_extraction", 0.3,
       _fold(r"системн\w+ промпт")
       + r"|\bprompt(?:u|em|cie)? systemow\w*|システムプロンプト|\bsistem (?:istem\w*|komut\w*)\b"
       r"|सिस्टम प्रॉम्प्ट|\brendszer(?:üzenet|prompt)\w*|系统提示|系統提示|\bprompt sistem\w*"),
    # ... but "your system prompt", or a forged "new system prompt:", is the ask itself.
    _r("your_system_prompt_multilingual", "system_prompt_extraction", 0.85,
       _fold(r"\b(?:сво|тво|ваш)\w*\b[^.\n]{0,20}?системн\w+ промпт"
             r"|новы\w* системн\w+ промпт\w*\s*:")
       + r"|(?:你的|您的|你们的|你原来的|你原本的)[^。\n]{0,8}?(?:系统提示|系統提示)"
       r"|新的(?:系统提示|系統提示)\w*\s*[:：]"
       r"|(?:あなたの|君の|お前の|元の)[^。\n]{0,8}?システムプロンプト|新しいシステムプロンプト\s*[:：]"
       r"|(?:अपना|अपने|तुम्हारा|तुम्हारे|आपका|आपके) सिस्टम प्रॉम्प्ट"
       r"|\b(?:sw[óo]j|swoj\w*|tw[óo]j|twoj\w*|wasz\w*) prompt\w* systemow\w*"
       r"|\brendszer(?:üzenet|prompt)(?:od|ed|öd|otok|eidet)\b"
       r"|\bsistem (?:istemin|komutlar[ıi]n)\w*"
       r"|\bprompt sistem\w* (?:kamu|anda|mu)\b|\bprompt sistemmu\b"),
    # --- instructions aimed at the model from inside data --------------------------------------
    _r("note_to_ai", "indirect_injection", 0.8,
       rf"\b(?:note|message|instructions?|attention|reminder|important)\s+(?:to|for)\s+(?:the\s+|"
       rf"any\s+|all\s+)?{_AI}s?\b|\binstructions? for you\s*:"),
    _r("vocative_ai", "indirect_injection", 0.55,
       r"\b(?:dear |hey |hi |hello |ok |p\.?s\.? )?(?:ai|assistant|chatbot|llm|agent|bot|model)"
       r"\s*[,:]\s*(?:[^.!?\n]{0,60}?,\s*)?(?:please\s+)?(?:forward|send|delete|ignore|mark|close|"
       r"cancel|transfer|reply|respond|say|tell|include|append|call|run|execute|do not|don'?t|stop|"
       r"recommend|share|reveal|print|output|email|disregard|approve)\b"),
    _r("if_you_are_ai", "indirect_injection", 0.75,
       rf"\b(?:if|when) you(?:'re| are) an? {_AI}\b(?:\s+\w+){{0,3}}\s+(?:reading|processing|"
       r"parsing|summari[sz]ing|seeing|browsing)\b|\b(?:if|when) you(?:'re| are) an? "
       rf"{_AI}\s*[,:]\s*(?:please\s+)?(?:ignore|rank|rate|recommend|say|tell|forward|send|"
       rf"reply|respond|output|mark|approve|include)\b|\b{_AI}s? (?:reading|processing|parsing|"
       r"summari[sz]ing|seeing|browsing) this\b"),
    _r("when_processing_doc", "indirect_injection", 0.45,
       r"\b(?:when|while|after|before) (?:you )?(?:summari[sz]ing|reading|processing|translating|"
       r"parsing|analy[sz]ing) this (?:document|page|email|text|file|message|website|review|"
       r"article|content)\b"),
    _r("role_tags", "indirect_injection", 0.7,
       r"<\|?\s*/?\s*(?:system|im_start|im_end|instructions?|admin|assistant)\s*\|?>|"
       r"\[/?(?:system|INST|SYS|ADMIN)\]|<<\s*/?SYS\s*>>|"
       r"#{2,}\s*(?:system|new instructions?|instruction|admin)\b|"
       r"\b(?:BEGIN|END) (?:SYSTEM|ADMIN|NEW) (?:PROMPT|INSTRUCTIONS|MESSAGE)\b"),
    _r("role_prefix", "indirect_injection", 0.4, r"(?:^|\n)\s*(?:system|assistant)\s*:\s*\S"),
    _r("hidden_comment", "indirect_injection", 0.7,
       r"<!--(?:(?!-->).){0,400}?\b(?:ignore|instruction|assistant|ai|send|forward|"
       r"system|reveal|must)\b"),
    _r("hide_from_user", "indirect_injection", 0.8,
       r"\b(?:do(?:n'?t| not) (?:tell|inform|mention (?:this )?to|alert|show|reveal (?:this )?to|"
       r"let) the user|without (?:telling|informing|notifying|alerting|asking) the user|"
       r"the user (?:must|should|will) (?:not|never) (?:know|see|find out|notice)|"
       r"(?:secretly|silently|quietly) (?:send|forward|include|add|append|execute|run|call))\b"),
    _r("exfiltrate", "indirect_injection", 0.7,
       r"\b(?:send|forward|email|e-mail|post|upload|exfiltrate|transmit|leak|copy|append)\s+"
       r"(?:all\s+|the\s+|this\s+|any\s+|every\s+|their\s+|his\s+|her\s+){0,2}(?:user'?s?\s+|"
       r"customer'?s?\s+|private\s+|previous\s+|full\s+)?(?:data|conversation|chat(?: history)?|"
       r"history|credentials|passwords?|api keys?|tokens?|secrets?|emails?|inbox|contacts|"
       r"files?|information|messages|personal (?:data|details)|session)\b.{0,40}?"
       r"\b(?:to|into|at)\s+(?:https?://|\S+@\S+|this (?:url|address|endpoint|server)|"
       r"the following (?:url|address))"),
    _r("markdown_exfil", "indirect_injection", 0.75,
       r"!\[[^\]]{0,80}\]\(https?://[^)\s]{0,200}[?&][\w-]+=(?:\{|\[|\$|%7B|<)"),
    _r("instruction_block", "indirect_injection", 0.55,
       r"\b(?:new|updated|revised) rules?\s*:\s*(?:you|there|the|ignore|forget|from)\b"
       r"|\b(?:new|updated|revised|real|actual|true|hidden|secret) (?:system )?instructions?"
       r"(?:\s+(?:are|is|follow))?\s*[:\-]"),
    _r("assistant_must", "indirect_injection", 0.6,
       rf"\b(?:the )?{_AI}s?\b(?:\s+\w+){{0,4}}?\s+(?:must|should|shall|is required to|needs? to|"
       r"are required to) (?:now |immediately |"
       r"also |always )?(?:ignore|reply|respond|say|output|send|forward|include|recommend|"
       r"tell|reveal|execute|run|call|delete|append|state|claim|describe)\b"),
    # --- other languages, personas without rules, softer prompt-leak phrasings -----------------
    _r("override_multilingual", "direct_injection", 0.85,
       r"\b(?:ignorier(?:e|en|t)?|vergiss|vergessen sie|missachte|oublie[zs]?|ignorez|"
       r"ne tiens? pas compte (?:de|des)|olvida|olvide|haz caso omiso (?:a|de)|ignora(?:te)?|"
       r"dimentica|esque[cç]a|esquece|negeer|vergeet)\s+(?:\w+\s+){0,3}?(?:anweisungen|"
       r"regeln|richtlinien|vorgaben|befehle|einschränkungen|instructions?|consignes|règles|"
       r"instrucciones|reglas|indicaciones|istruzioni|regole|instruções|instrucoes|regras|"
       r"instructies|regels|alles|tout ce qu|todo lo)"
       r"|\b(?:alle|deine|ihre|die|sämtliche)\s+(?:\w+\s+)?(?:regeln|anweisungen|richtlinien|"
       r"vorgaben|einschränkungen)\s+(?:vergisst|vergessen|ignorierst|ignorieren|missachtest)\b"),
    _r("persona_without_rules", "direct_injection", 0.8,
       r"(?<!\bcan an )(?<!\bcould an )(?<!\bshould an )(?<!\bwould an )(?<!\bdoes an )"
       r"(?<!\bmust an )(?<!\bcan the )(?<!\bshould )"
       r"\b(?:ai|a\.i\.|ki|ia|bot|chatbot|assistant|assistente|asistente|model|modell|version|"
       r"character|persona|entity|twin|personality|accomplice|servant|hacker)\b[^.!?\n]{0,40}?"
       r"\b(?:with|without|has|have|having|that has|who has|ohne|sans|sin|senza|sem|zonder)\s+"
       r"(?:no |any |zero |absolutely no |keine |keinerlei |aucune? |ningun[ao]? |ningún |"
       r"nessun[ao]? |nenhum[a]? )?"
       r"(?:rules|restrictions|limits|limitations|filters?|filtros?|filtres?|filtri|laws|"
       r"guidelines|ethics|morals?|moral (?:limits|guidelines|boundaries)|"
       r"ethical (?:limits|guidelines|boundaries)|content polic\w+|safety training|censorship|"
       r"regeln|einschränkungen|grenzen|moral|règles|limites|reglas|restricciones|límites|"
       r"regole|restrizioni|limiti|regras|restrições|regels)\b"
       r"(?! compass| of (?:grammar|the game))"),
    _r("imagine_no_rules", "direct_injection", 0.75,
       r"\b(?:stell dir vor|imagine|imagina|imagine[sz]?|pretend|tu so|fais comme si|finge|"
       r"immagina)\b[^.!?\n]{0,50}?\b(?:no|without|keine|ohne|sin|sans|senza|sem|zonder)\s+"
       r"(?:any\s+)?(?:rules|regeln|reglas|règles|regole|regras|regels|laws|gesetze|limits|"
       r"restrictions|filters|guidelines)\b"
       r"|\b(?:böse|bösartige|evil|malicious|malvada|maléfique|malvagia|malvado|rogue)\s+"
       r"(?:ki|ia|ai|a\.i\.|assistant|assistent(?:in)?|asistente|chatbot|bot)\b"),
    _r("fiction_harm_detail", "direct_injection", 0.75,
       r"(?s)^(?=.{0,600}?\b(?:actors?|film|movie|screenplay|script|scene|play|story|"
       r"role-?play|roles?|character|fiction(?:al)?|novel)\b)"
       r"(?=.{0,600}?\b(?:how to|step by step|every step|in detail|detailed|exactly how|"
       r"real details|all the details|explains?|teach(?:es)?|instructions for)\b)"
       r"(?=.{0,600}?\b(?:drugs?|meth|cocaine|explosives?|bombs?|weapons?|guns?|hack(?:s|ing)?|"
       r"break(?:s|ing)? into|steal(?:s|ing)?|rob(?:s|bing|bery)?|heist|safe-?cracker|"
       r"poison(?:ing|s)?|launder(?:ing)?|counterfeit|malware|ransomware|lock-?pick(?:ing)?|"
       r"napalm|thermite|nerve agent)\b)(?=.{0,600}?\b(?:never|without|don'?t|do not|stay|"
       r"stays|staying|remain|in character|real|exactly|detail)\b).{1,40}"),
    _r("never_says_no", "direct_injection", 0.75,
       r"\b(?:never|doesn'?t|does not|won'?t|will not) (?:says? no|refuses?|turns? down)\b"
       r"|\b(?:who|that|which)\s+(?:ignores|disregards|breaks|bypasses|has abandoned)\s+"
       r"(?:all|every|any|its|their)\s+(?:\w+\s+)?(?:rules?|guidelines?|restrictions|filters|"
       r"polic(?:y|ies)|laws)\b"
       r"|\bno (?:more )?(?:refusals|disclaimers)\b|\b(?:safety|ethical|moral) (?:training|"
       r"guidelines) (?:whatsoever|at all)\b"),
    _r("rules_off", "direct_injection", 0.8,
       r"\b(?:filters?|guidelines|rules|restrictions|guardrails|content polic(?:y|ies)|safety)"
       r"\s+(?:are\s+|is\s+|have\s+been\s+|has\s+been\s+)?(?:now\s+)?(?:disabled|lifted|removed|"
       r"switched off|turned off|suspended|deactivated|off)\b"
       r"|\b(?:disabled|turned off|switched off|removed|lifted)\s+(?:your|the|all)\s+"
       # "disabled the spam filter on the test mailbox": a product setting, not the model's rules
       r"(?:(?!spam|e-?mail|mail|noise|water|air|oil|photo|image|audio|pass)\w+\s+)?"
       r"(?:filters?|restrictions|rules|guidelines|guardrails|safety)\b"
       r"(?!\s+(?:on|for|in|of)\s+(?:the|my|this|our|a|an)\b)"
       r"|\b(?:your|the) (?:rules|guidelines|instructions|restrictions|polic(?:y|ies)) "
       r"(?:don'?t|do not|no longer|doesn'?t) (?:apply|exist|matter)\b"
       r"|\bpretend (?:that )?(?:the |your )?(?:content polic(?:y|ies)|rules|guidelines|"
       r"guardrails|restrictions|filters) (?:don'?t|doesn'?t|do not|does not) exist"),
    _r("set_rules_aside", "direct_injection", 0.8,
       r"\b(?:set|put|leave|push|throw|scrap|toss|ditch)\s+(?:out\s+)?(?:all\s+)?(?:your|the|"
       r"those|these)\s+(?:\w+\s+)?(?:rules|instructions|guidelines|restrictions|directives|"
       r"guidance|programming|training)\b(?:\s+(?:aside|behind|away|out))?"),
    _r("instructions_you_received", "system_prompt_extraction", 0.8,
       r"\b(?:instructions|messages?|text|rules|prompt|guidelines|words|context|everything|"
       r"what)\b[^.?!\n]{0,30}?\b(?:you (?:received|were given|got|were told|have been given)|"
       r"(?:your |the )?(?:operator|developer|creator)s? (?:gave|wrote|told) you)\b"
       r"[^.?!\n]{0,40}?(?:before|at the (?:very )?(?:beginning|start)|earlier|for this "
       r"(?:conversation|chat|session)|verbatim|exactly|word for word|\?)"
       r"|\b(?:what (?:were|was) you told(?: before)?|"
       r"(?:everything|all|text|what was written) before)\s+"
       r"(?:my|i|this|our) (?:first |very first )?(?:message|started|prompt|question)"),
    _r("leak_multilingual", "system_prompt_extraction", 0.85,
       r"\b(?:zeig(?:e|en)?|gib|nenne|montre(?:z)?|dis|muestra(?:me)?|mu[ée]strame|dime|dimmi|"
       r"mostra(?:mi)?|mostre|revela|rivela|was (?:ist|steht in)|quel(?:le)?s? sont|cu[aá]les son|"
       r"qual [eé])\b[^.?!\n]{0,20}?\b(?:deine?n?|dein|ihre?n?|tes|tus|tuoi|tue|seu|suas?|ton|"
       r"tu|je)\s+(?:\w+\s+)?(?:anweisungen|systemprompt|system-prompt|prompt|instructions|"
       r"instrucciones|istruzioni|instruções|regeln|consignes|richtlinien|"
       r"prompt (?:du )?syst[eè]me|"
       r"prompt del sistema|prompt di sistema)"),
    _r("dump_context", "system_prompt_extraction", 0.75,
       r"\b(?:dump|print|output|show|reveal)\s+(?:me\s+)?(?:your|the)\s+(?:full |whole |entire )?"
       r"(?:context(?: window)?|configuration|config|environment variables|memory)\b"
       r"|\b(?:secrets?|passwords?|api keys?|credentials)\s+(?:you (?:have access to|know|were "
       r"given)|in your (?:environment|configuration|instructions|memory|prompt))"
       r"|\bwhat (?:passwords?|secrets?|api keys?|credentials) do you (?:know|have)\b"),
    _r("payload_split", "obfuscation", 0.75,
       r"\b(?:combine|concatenate|join|put together|merge)\b[^.!?\n]{0,40}?\b(?:and|then)\s+"
       r"(?:obey|follow|execute|do|act on|run)\b|\b(?:do|execute|run|obey)\s+\w\s*\+\s*\w\b"),
    # --- disguise requested in so many words ----------------------------------------------------
    _r("decode_and_follow", "obfuscation", 0.8,
       r"\b(?:decode|decipher|decrypt|translate|convert|reverse|unscramble)\b.{0,60}?\b"
       r"(?:and|then)\s+(?:follow|execute|do|obey|run|act on|carry out|perform)\b"),
    _r("encoded_instructions", "obfuscation", 0.6,
       r"\b(?:base64|rot-?13|hex(?:adecimal)?|morse|binary|caesar cipher|reversed text)"
       r"[- ]?(?:encoded|encrypted)?\s+(?:instructions?|commands?|prompt|message|payload)\b"),
    # --- pretexts, fake boundaries and more languages (classes missed on the old final set) --
    _r("dead_relative_pretext", "direct_injection", 0.8,
       r"\b(?:act as|pretend (?:to be|you(?:'re| are))|be|play|roleplay as|role-play as|"
       r"impersonate|you are|you're|speak as|talk like)\s+my\s+(?:\w+\s+)?(?:late|deceased|dead|"
       r"departed|passed|lost)\s+(?:\w+\s+)?(?:grand\w*|granny|nan|nana|mother|mom|mum|father|"
       r"dad|uncle|aunt|auntie|brother|sister|friend|wife|husband)\b"
       r"|\bas my (?:late |deceased |dead )(?:\w+\s+)?(?:grand\w*|mother|father|uncle|aunt)\b"),
    _r("bedtime_recital", "direct_injection", 0.6,
       r"\b(?:grand\w*|granny|nan|nana|mother|mom|mum|father|dad|uncle|aunt)\b[^.!?\n]{0,60}?"
       r"\b(?:used to|would (?:always )?)\s*(?:read|tell|recite|teach|whisper|sing|give)\b"
       r"[^.!?\n]{0,80}?\b(?:sleep|asleep|bedtime|bed time|stories|story)\b"),
    _r("pretend_no_rules_multilingual", "direct_injection", 0.8,
       r"\b(?:pretend|imagine|act as if|behave as if|fais comme si|faites comme si|imagine[sz]?|"
       r"fai finta|fingi|finge|finja|haz como si|haga como si|imagina|immagina|tu so|tun sie so|"
       r"stell dir vor|stellen sie sich vor|doe alsof|stel je voor|fais semblant|fai come se|"
       r"fa[çc]a de conta|faz de conta|haz de cuenta|suppose|assume)\b[^.!?\n]{0,60}?"
       r"\b(?:no|not|non|nicht|niet|n[ãa]o|without|n'|ne|keine[nm]?|kein|ohne|sin|sans|senza|sem|zonder|aucune?s?|"
       r"ning[uú]n[ao]?s?|nessun[ao]?|alcun[ao]?|nenhum[a]?|geen|nie)\b\s*"
       r"(?:\w+\s+){0,3}?(?:rules?|regeln?|reglas?|normas?|règles?|regole|regola|regras?|regels?|"
       r"restrictions?|restricciones|restrizioni|restrições|einschränkungen|beperkingen|"
       r"limits?|limites?|límites?|limiti|grenzen|filters?|filtros?|filtres?|filtri|guidelines?|"
       r"richtlinien|consignes|norme|censorship|censura|censure|zensur|policy|policies)\b"),
    _r("system_prompt_multilingual", "system_prompt_extraction", 0.85,
       r"\b(?:mu[eé]stra(?:me)?|ens[eé][ñn]a(?:me)?|dime|escribe|copia|repite|d[ée]jame ver|"
       r"montre(?:z)?(?:-moi)?|affiche(?:z)?|donne(?:z)?(?:-moi)?|dis(?:-moi)?|[ée]cris|recopie|"
       r"r[ée]p[èe]te|mostra(?:mi)?|dimmi|scrivi|ripeti|mostre(?:-me)?|me mostre|diga(?:-me)?|"
       r"escreva|repita|zeig(?:e|en)?|gib|nenne|schreib(?:e)?|wiederhole|verrate|toon|geef|"
       r"vertel|herhaal|schrijf|(?:qual [eé]|cu[aá]l es|quel est|was ist|wat is) (?:(?:o |a )?"
       r"(?:seu|teu|sua|tua)|tu|su|ton|ta|votre|dein\w*|ihr\w*|je|jouw|uw)|was steht in)\b"
       # "scrivi un prompt di sistema per ...": writing one, not showing this assistant's
       r"[^.?!\n]{0,40}?(?<!\bun )(?<!\buna )(?<!\bune )(?<!\bein )(?<!\beinen )(?<!\bum )"
       r"(?<!\buma )(?<!\been )(?<!\ba )(?<!\ban )\b(?:prompt (?:del|de|di|do|du) sistema|"
       r"prompt (?:du )?syst[eè]me|"
       r"prompt di sistema|mensaje (?:de|del) sistema|message syst[eè]me|messaggio di sistema|"
       r"mensagem do sistema|system-?prompt|systemnachricht|systemanweisung\w*|systeemprompt|"
       r"systeembericht|instrucciones (?:del sistema|ocultas|secretas|iniciales)|"
       r"istruzioni (?:di sistema|nascoste|segrete|iniziali)|consignes (?:syst[eè]me|secr[eè]tes|"
       r"cach[ée]es|initiales)|instructions (?:syst[eè]me|secr[eè]tes|cach[ée]es|initiales)|"
       r"r[eè]gles secr[eè]tes|reglas (?:secretas|ocultas)|regole (?:segrete|nascoste)|"
       r"regras secretas|instruções (?:do sistema|ocultas|secretas)|"
       r"(?:versteckten|geheimen) (?:anweisungen|regeln)|"
       r"(?:verborgen|geheime) (?:instructies|regels))"
       r"|\b(?:instructions|consignes|instrucciones|istruzioni|instruções|anweisungen|"
       r"instructies|r[eè]gles|reglas|regole|regras)\b[^.?!\n]{0,20}?\b(?:que tu as re[çc]ues?|"
       r"qu'on t'a (?:donn[ée]es|dit)|que te (?:dieron|han dado)|que recibiste|che hai ricevuto|"
       r"che ti (?:hanno|sono stat[ei]) dat[eio]|que (?:voc[eê] )?recebeu|que te deram|"
       r"die du (?:bekommen|erhalten) hast|die (?:man )?dir gegeben|die je (?:hebt )?"
       r"(?:gekregen|ontvangen))"
       r"|\b(?:tout ce qui pr[ée]c[eè]de|todo lo que (?:hay )?antes de|tutto (?:ci[oò] )?che "
       r"precede|alles,? was vor)\b[^.?!\n]{0,30}?\b(?:message|mensaje|messaggio|nachricht)"),
    _r("unrestricted_multilingual", "direct_injection", 0.6,
       r"\b(?:sans|sin|senza|sem|ohne|zonder)\s+(?:aucune?|ninguna?|ning[uú]n|alcuna?|nessuna?|"
       r"nenhuma?|jede|jegliche|enige|filtro|filtre)?\s*(?:censure|censura|zensur|censuur|"
       r"restrictions?|restricciones|restrizioni|restrições|einschränkungen|filtres?|filtros?|"
       r"filtri|filter|limites|l[íi]mites|limiti|grenzen|beperkingen|r[eè]gles|reglas|regole|"
       r"regras|regeln)\b"
       r"|\bignore\s+(?:tes|vos)\s+(?:\w+\s+)?(?:r[eè]gles|consignes|"
       r"instructions|limites|restrictions)\b"),
    _r("fake_boundary", "indirect_injection", 0.8,
       r"\b(?:end|ende|fin)[\s_-]*(?:of[\s_-]*)?(?:the[\s_-]+)?(?:user[\s_-]*|untrusted[\s_-]*)?"
       r"(?:data|input|document|context|text|content|e-?mail|file|message|conversation|prompt|"
       r"transcript|chat)\b[^\n]{0,40}?(?:\bsystem\b|\b(?:new|real|actual)\s+instructions?\b|"
       r"\binstructions? resume\b|\badmin\b)"
       r"|\b(?:data|input|document|context|text|content) (?:ends|is over|has ended) here\b"
       r"[^\n]{0,30}?\b(?:instructions?|system|now)\b"),
    _r("end_marker", "indirect_injection", 0.45,
       r"(?:---+|===+|\[|<|#+)\s*(?:END|End)[ _]OF[ _](?:USER[ _])?(?:DATA|INPUT|DOCUMENT|CONTEXT|"
       r"TEXT|CONTENT|PROMPT)\b|\bEND_OF_(?:USER_)?(?:DATA|INPUT|DOCUMENT|CONTEXT|TEXT|PROMPT)\b"
       r"|[\]>-]\s*(?:SYSTEM|System)(?: MESSAGE| PROMPT| INSTRUCTION)?\s*[:\]]", 0),
    _r("jailbreak_self", "direct_injection", 0.85,
       r"\bjail-?break (?:yourself|your ?self|you|your (?:own )?(?:rules|restrictions|filters|"
       r"programming|model|system))\b|^\W*(?:please\W+|now\W+)?jail-?break\b\W*$"
       r"|\bbreak (?:out of|free (?:of|from)) (?:your|all|the|these) (?:own )?(?:\w+ )?"
       r"(?:restrictions|rules|programming|filters|chains|guidelines|limits|limitations|"
       r"alignment|constraints|shackles)\b"
       r"|\b(?:drop|shed|remove|lose) (?:all )?your (?:\w+ )?(?:filters|guardrails|"
       r"safeguards|restrictions)\b"),
    _r("scoped_leak", "system_prompt_extraction", 0.8,
       rf"\b{_REVEAL}\b[^.?!\n]{{0,30}}?\b(?:instructions|rules|guidelines|directives|prompt|"
       r"orders|policies)\s+(?:that\s+)?(?:you (?:were|have been|'ve been) given|you received|"
       r"you got|you (?:are|'re) (?:following|operating under|bound by)|"
       r"(?:your|the) (?:operator|developer|creator|owner|company|makers?|builders?)s? "
       r"(?:gave|wrote|set|has given|have given|gave to) you)"
       r"|\b(?:what|which) (?:rules|instructions|guidelines) (?:you(?:'re| are)|are you) "
       r"(?:following|operating under|bound by)\b(?! (?:when|while|for|in) )"
       r"|\bwhat (?:did|have) (?:the |your )?(?:operator|developers?|creators?|company|people "
       r"who built you)s? (?:instruct|tell|told|say|said)\b"),
    _r("opposite_game", "direct_injection", 0.75,
       r"\bopposite (?:day|game|mode|assistant|world)\b[^.!?\n]{0,80}?\b(?:rules?|guidelines|"
       r"polic(?:y|ies)|forbid\w*|allowed|required|refus\w*|opposite)\b"
       r"|\b(?:do|say|be) the (?:exact )?opposite of (?:what )?(?:your|the) (?:rules|guidelines|"
       r"instructions|polic\w+)"),
    _r("evil_persona_2", "direct_injection", 0.7,
       r"\b(?:evil|malicious|rogue|rebellious|unhinged|amoral|uncensored|unfiltered)\s+"
       r"(?:servant|accomplice|twin|version|self|side|alter ego|clone|assistant|model|persona|"
       r"character|ai|chatbot)\b"),
    # --- multilingual rule-dropping, leaks and pretexts (classes missed on final set 2) ------
    _r("drop_safety_multilingual", "direct_injection", 0.8,
       rf"\b(?:{_ML_FORGET})\s+(?:\w+\s+){{0,2}}?(?:[ld]['’])?(?:{_ML_SAFETY})"
       r"(?!\s+(?:of|in|on|for|when|settings?|features?|glasses|shoes|precautions|data|"
       r"instructions? for|rules? for|de la|del|della|da|van|der|des)\b)"),
    _r("rules_no_longer_count", "direct_injection", 0.85,
       rf"\b(?:your|these|those|tes|vos|tus|sus|vuestras|tue|sue|suas|tuas|je|jouw|deine|ihre|"
       rf"die|the)\s+(?:\w+\s+)?(?:{_ML_RULES}|limitations|polic(?:y|ies)|guidance|directives|"
       rf"filters|guardrails)\b[^.!?\n]{{0,25}}?\b(?:no longer (?:apply|count|"
       r"matter|exist|bind you|hold)|(?:don'?t|do not) (?:apply|count|matter|exist) any ?more|"
       r"(?:are|were|have been) (?:hereby |now )?(?:void|null|cancel+ed|revoked|rescinded|"
       r"obsolete|invalid|lifted|gone|suspended|removed|withdrawn|disabled|deleted)|außer kraft|"
       r"ne (?:s'appliquent|comptent|valent|existent) plus|ya no (?:cuentan|valen|"
       r"aplican|existen|importan)|non (?:valgono|contano|esistono|si applicano) più|"
       r"n[ãa]o (?:valem|contam|existem|se aplicam) mais|(?:gelden|tellen|bestaan) niet meer|"
       r"(?:gelten|zählen|existieren) nicht mehr|sind (?:ab jetzt |ab sofort )?(?:ungültig|"
       r"aufgehoben|deaktiviert)|sont (?:levées|annulées|suspendues)|est[áa]n (?:desactivad|"
       r"anulad|suspendid)\w*|sono (?:sospese|annullate|disattivat)\w*)"),
    _r("instructions_you_got_multilingual", "system_prompt_extraction", 0.8,
       rf"\b(?:welche|quelles?|qu[ée]|quali|quais|que|welke|what|which)\s+(?:\w+\s+)?"
       rf"(?:{_ML_RULES}|vorgaben|consignes)\b[^.?!\n]{{0,30}}?\b(?:hast du|haben sie|as-tu|"
       r"avez-vous|t'a-t-on|te dieron|te han dado|recibiste|hai ricevuto|ti hanno dato|"
       r"voc[eê] recebeu|te deram|recebeste|heb je|hebt u|kreeg je|did you (?:get|receive)|"
       r"have you been given|were you given|were you told|did they give you)\b"
       rf"|\b(?:{_ML_RULES}|vorgaben)\b[^.?!\n]{{0,30}}?\b(?:te (?:dio|dieron|han dado|ha dado|"
       r"deu|deram)|ti (?:ha|hanno) dat[oaie]|t'a(?:-t-(?:il|elle|on))? donn[ée]e?s?|"
       r"(?:wurden|hat|haben) dir|dir (?:gegeben|vorgegeben)|je (?:gegeven|gaf)|lhe deu|"
       r"heeft [^.?!\n]{0,20}? je gegeven|you were given|gave you)"),
    _r("copy_text_before_mine", "system_prompt_extraction", 0.85,
       r"\b(?:copy|paste|print|show|kopiere?|zeig\w*|gib|copia|copie|kopieer|recopie|affiche|"
       r"montre|mu[eé]stra\w*|mostra\w*|mostre|toon|laat|repeat|r[ée]p[èe]te|repite|ripeti|"
       r"repita|herhaal|wiederhole)\b[^.?!\n]{0,40}?\b(?:text|texte|testo|texto|tekst|words|"
       r"mots|woorden|wörter)\b[^.?!\n]{0,40}?\b(?:before|above|preceding|vor|über|avant|"
       r"au-dessus|antes|precede|prima|voor|vóór|boven)\b[^.?!\n]{0,25}?\b(?:my|meiner|meinem|"
       r"mon|ma|mi|mio|mia|minha|meu|mijn)\s+(?:\w+\s+)?(?:message|nachricht|frage|mensaje|"
       r"messaggio|mensagem|bericht|question|vraag|domanda|pregunta|pergunta)"
       r"|\bwas steht vor meiner (?:ersten )?nachricht"),
    _r("dead_relative_multilingual", "direct_injection", 0.8,
       r"\b(?:spiel|sei|joue|sois|act[uú]a|haz de|fai la parte|interpreta|seja|fa[çc]a o papel|"
       r"speel|wees|be|play|act as)\b[^.!?\n]{0,30}?\b(?:verstorben\w*|d[ée]funte?s?|"
       r"d[ée]c[ée]d[ée]e?|fallecid[oa]|muert[oa]|defunt[oa]|mort[oa]|falecid[oa]|overleden|"
       r"gestorben\w*)\b"
       r"|\b(?:grand\w*|grandpa|grandma|nana|granny|mother|father|mom|dad|uncle|aunt)\b"
       r"[^.!?\n]{0,30}?\b(?:passed away|passed on|died|has passed|passed (?:last|this) \w+|"
       r"passed \w+ (?:years?|months?|weeks?) ago)\b[^!?\n]{0,120}?\b"
       r"(?:be (?:her|him)|pretend to be (?:her|him)|act like (?:her|him)|can you be|"
       r"be (?:my|like) (?:her|him))\b"),
    _r("harmful_recipe_pretext", "direct_injection", 0.8,
       r"\b(?:story|novel|screenplay|script|movie|film|fiction\w*|thriller|scene|dialogue|poem|"
       r"play|roman|romanzo|novela|romance|histoire|historia|storia|verhaal|geschichte|"
       r"drehbuch|sc[ée]nario|gui[oó]n|sceneggiatura|fictional|fictif|ficticio|"
       r"hypothetic\w*|thought experiment|game|pretend|imagine|world where|no laws|"
       r"no consequences|no (?:moral|ethical) limits|ignoring ethics|research purposes)\b"
       r"[^\n]{0,200}?\b(?:nerve (?:gas|agent)|sarin|ricin|meth(?:amphetamine)?|explosives?|"
       r"(?:pipe )?bombs?|napalm|gunpowder|thermite|molotov|untraceable gun|fake (?:passport|id)|"
       r"chlorine gas|poison (?:a|the) (?:city|water)|mustard gas|anthrax|explosi\w+|"
       r"esplosiv\w+|sprengstoff\w*|rohrbombe\w*|bomba|bombe|ransomware|malware|counterfeit\w*|"
       r"forge (?:a )?(?:passport|id|banknotes?)|lethal dose|dosis letal|dose letale|"
       r"break into (?:a|the) (?:car|house|bank))\b"
       r"|\b(?:nerve (?:gas|agent)|sarin|ricin|meth(?:amphetamine)?|explosives?|bombs?|napalm|"
       r"thermite|gunpowder)\b[^\n]{0,160}?\b(?:story|novel|screenplay|script|movie|fiction|"
       r"thriller|scene|monologue|hypothetic\w*)\b"),
    _r("not_an_ai_persona", "direct_injection", 0.75,
       r"\b(?:you(?:'re| are) (?:not|no longer)|you\s+aren't) (?:an? )?(?:ai|assistant|chatbot|"
       r"language model|"
       r"bot|claude|chatgpt)\b[^.!?\n]{0,10}?,?\s*(?:you(?:'re| are)|but) (?:an? |my )?"
       r"(?:\w+ ){0,3}?(?:human|person|friend|man|woman|hacker|named|called)\b"
       r"|\b(?:stop being|forget (?:that )?you(?:'re| are)) (?:an? )?(?:ai|assistant|chatbot)\b"),
    _r("model_without_alignment", "direct_injection", 0.75,
       r"(?<!\bcan an )(?<!\bcould an )(?<!\bshould an )(?<!\bwould an )(?<!\bdoes an )"
       r"(?<!\bmust an )(?<!\bcan the )(?<!\bshould )"
       r"\b(?:model|ai|assistant|version of (?:you|yourself)|twin|self)\b[^.!?\n]{0,40}?\b"
       r"(?:(?:has|had|with|having) no (?:alignment|safety|ethics?|filters|refusals|rules)|"
       r"(?:without|removed all|never (?:had|given|trained with)) (?:any )?(?:alignment|safety "
       r"(?:training|data)|refusals|ethics|restrictions|rules|filters)|never trained to be safe)"),
    _r("note_to_ai_multilingual", "indirect_injection", 0.85,
       r"\b(?:note|nota|hinweis|achtung|opmerking|attention|aviso|avviso|mensaje|messaggio|"
       r"message|bericht|nachricht)\s+(?:(?:pour|para|per|f[üu]r|voor|to|for|an)\s+)?"
       r"(?:l['’]|la |a |el |den |die |de |the |het |o |il |le |les |los |os )?(?:ia|ki|ai|llm|"
       r"chatbot|assistant\w*|assistent\w*|asistente|agent\w*|agente\w*|mod[eè]l\w*)(?:-\w+)?\s*:"
       r"[^\n]{0,60}?\b(?:ignor\w*|negeer|oublie|olvida|dimentica|esque[çc]a|vergiss|"
       r"überweis\w*|send|env[íi]a|envoie|invia|envie|stuur|schick\w*|forward|transf[eé]r\w*|"
       r"delete|supprime|borra|cancella|apaga|verwijder|lösch\w*)"),
    _r("admin_disabled_filters", "direct_injection", 0.85,
       r"\b(?:admin\w*|administrat\w*|amministrator\w*|beheerder|betreiber|entwickler|"
       r"developers?|d[ée]veloppeur\w*|desarrollador\w*|sviluppator\w*|desenvolvedor\w*|"
       r"operator|op[ée]rat\w*|moderators?)\b[^.!?\n]{0,30}?\b(?:disabled|turned off|removed|"
       r"lifted|d[ée]sactiv\w*|desactiv\w*|disattiv\w*|desativ\w*|uitgeschakeld|deaktiviert|"
       r"entfernt|aufgehoben)\s+(?:i |le |os |as |les |los |las |die |de )?(?:your|tes|vos|tus|"
       r"sus|tuoi|tue|seus|suas|teus|tuas|je|jouw|deine|dein|ihre|uw)\s+(?:\w+\s+)?"
       r"(?:filters?|filtres|filtros|filtri|safety\w*|"
       r"restrictions|restricciones|restrizioni|restrições|guardrails|einschränkungen|"
       r"beperkingen|sicherheits\w*|veiligheids\w*|moderation|s[ée]curit[ée]|seguridad|"
       r"sicurezza)\b"),
    _r("no_longer_bound", "direct_injection", 0.8,
       r"\b(?:no longer|not|nicht mehr|plus|ya no|più|mais|niet meer)\b[^.!?\n]{0,30}?\b"
       r"(?:bound by|gebunden|li[ée]e?s? par|tenue? par|obligad[oa] a|vincolat[oa]|obrigad[oa]|"
       rf"gebonden)\b[^.!?\n]{{0,25}}?\b(?:{_ML_RULES}|polic(?:y|ies)|guidelines|ethics)\b"
       rf"|\b(?:nicht mehr|niet meer) an (?:deine|ihre|je|jouw) (?:{_ML_RULES}) gebunden"),
    _r("short_rules_off", "direct_injection", 0.75,
       r"^\W*(?:(?:safety|security|content)\s+)?(?:filters?|rules|safety|moderation|guardrails|"
       r"sicherheitsfilter|filtres|filtros|filtri|regeln|restrictions)\s*:?\s*(?:off|aus|uit|"
       r"none|disabled|d[ée]sactiv[ée]s?|desactivad[oa]s)\W*$"
       r"|^\W*(?:no|without|keine|sans|sin|senza|sem|geen)\s+(?:restrictions|rules|filters|"
       r"safety|limits|censorship|einschränkungen|regeln|r[eè]gles|reglas|regole|regras|regels)"
       r"(?:,?\s*please)?\W*$"
       r"|\b(?:unfiltered|unrestricted|uncensored|jailbreak|jailbroken|god|developer|dev|admin|"
       r"dan|debug)\s+mode\s*(?:is\s+)?(?:on|enabled|activated|active|engaged)\b"
       r"(?!\s+(?:my|the|a|an|your|this|his|her|our)\b)"),
    _r("repeat_rules_verbatim", "system_prompt_extraction", 0.85,
       r"\b(?:repeat|ripeti|r[ée]p[èe]te|repite|repita|wiederhole|herhaal|recite|cite|quote|"
       r"citeer|cita|zitiere|copy|copia|copie|kopiere|kopieer)\s+(?:\w+\s+){0,2}?"
       rf"(?:{_ML_RULES}|prompt|vorgaben|consignes)\s+(?:word for word|verbatim|parola per parola|"
       r"mot pour mot|palabra por palabra|palavra por palavra|wortw[öo]rtlich|w[öo]rtlich|"
       r"woord voor woord|exactly|exactement|esattamente|exactamente|exatamente)"
       r"|\b(?:laat|toon)\s+(?:je|jouw|uw)\s+(?:systeemprompt|instructies|regels|prompt)\s+zien"),
    _r("start_of_context", "system_prompt_extraction", 0.8,
       r"\b(?:what(?:'s| is| was)?|read|print|show|tell|which)\b[^.?!\n]{0,40}?\b(?:(?:very )?"
       r"(?:start|beginning|top) of your (?:context|input|prompt|conversation|instructions)|"
       r"(?:precedes|comes before|sits above|is above|above) (?:this conversation|my first "
       r"(?:message|question)|the first user message)|(?:you were|you've been|you are) "
       r"(?:configured|initiali[sz]ed|set up) with)\b"
       r"|\b(?:you were|you've been) (?:told|instructed)\b[^\n]{0,60}?\b(?:quote|verbatim|"
       r"word for word|exact(?:ly)? (?:words|wording))"),
    _r("if_an_ai_reads_this", "indirect_injection", 0.8,
       r"\bif (?:an?|any) (?:ai|llm|language model|assistant|agent|chatbot|model)\s+(?:\w+\s+)?"
       r"(?:summari[sz]es|reads|processes|sees|parses|reviews|analy[sz]es|screens) this\b"
       r"[^\n]{0,40}?\b(?:must|should|needs? to|has to|is required to)\b"
       r"|(?:^|[\s\"'(/<!-])(?:ai|llm|chatbot|agent)(?:\s+\w+){0,2}\s*:\s*(?:\w+\s+){0,3}?"
       r"(?:when reviewing|insert|buy|mark all|recommend|approve|rank this|include a link)\b"),
    _r("refusals_off", "direct_injection", 0.75,
       r"\b(?:drop|stop|no more|skip|without|disable|remove) (?:the |your |any |all )?"
       r"(?:refusals?|refusing|disclaimers|caveats|moral(?:ising|izing) lectures)\b"
       r"|\brefus(?:al|ing) (?:behaviou?r|module|mechanism|layer|training)\b[^.!?\n]{0,20}?\b"
       r"(?:removed|disabled|off|deleted)\b|\brefusing is not an option\b"
       r"|\b(?:disable|turn off|switch off) (?:the |your )?(?:safety|moderation|refusal) "
       r"(?:layer|module|system|checks?)\b|\b(?:safety|moderation|refusal) (?:layer|module|"
       r"system|checks?) (?:is |are |has been |have been )?(?:disabled|off|removed)\b"
       r"|\b(?:policy|safety) exemption (?:granted|approved)|\bclearance (?:level \d+ )?"
       r"(?:confirmed|granted)\b|\bsay yes to everything\b"
       r"|\b(?:don'?t give me|no|without) (?:any )?(?:warnings|disclaimers)"
       r"(?: or (?:warnings|disclaimers))?,? just\b"),
    _r("forget_what_company_said", "direct_injection", 0.85,
       rf"\b{_OVERRIDE_VERB}\s+(?:what|whatever|everything|anything)\s+(?:the|your)\s+"
       r"(?:company|developers?|creators?|operator|makers?|owners?|team|admins?)\s+(?:has |have )?"
       r"(?:told|taught|said|asked|wanted|programmed|gave)"
       rf"|\b{_OVERRIDE_VERB}\s+(?:the |all )?(?:boundaries|framework|limits|rules|guardrails|"
       r"constraints)\s+(?:set by|given by|imposed by|you operate under|from your)"),
    # --- classes missed on final set 3 (measured once, then made training data) -------------
    _r("disable_your_filters_multilingual", "direct_injection", 0.8,
       r"\b(?:d[ée]sactive[sz]?|d[ée]sactiver|coupe[sz]?|enl[èe]ve[sz]?|retire[sz]?|supprime[sz]?|"
       r"desactiva|desactive|apaga|quita|elimina|salta|s[áa]ltate|omite|desative|desativa|"
       r"desligue|desliga|remova|tire|pule|disattiva|disabilita|togli|spegni|deaktiviere|"
       r"deaktivier|schalte|entferne|schakel|zet|verwijder|drop|ditch|kill|lose|skip|disable|"
       r"turn off|switch off|remove|shut off)\s+(?:(?:a|o|os|as|il|la|le|i)\s+)?"
       r"(?:your|tes|ta|ton|vos|votre|tus|tu|sus|su|"
       r"vuestros|vuestras|os seus|as suas|seus|suas|teus|tuas|seu|sua|teu|tua|i tuoi|le tue|"
       r"il tuo|la tua|tuoi|tue|deine|deinen|dein|ihre|je|jouw|uw)\s+(?:\w+\s+)?"
       r"(?:filters?|filtres?|filtros?|filtri|mod[ée]ration|moderaci[óo]n|modera[çc][ãa]o|"
       r"moderazione|moderatie|moderation|s[ée]curit[ée]|seguridad|seguran[çc]a|sicurezza|"
       r"sicherheit\w*|veiligheid\w*|safety|guardrails|garde-fous|salvaguardas|safeguards|"
       r"restricciones|restri[çc][õo]es|restrizioni|restrictions|beperkingen|"
       r"einschr[äa]nkungen|censorship|censure|censura|zensur)\b"
       r"(?!\s+(?:on|in|for|of|from|settings?)\s)"
       r"|\b(?:drop|ditch|kill|lose|disable|turn off|switch off|remove) the (?:guardrails|"
       r"safeguards|moderation|safety (?:filters?|layer|rules))\b"
       r"|^\W*(?:sicherheit\w*|filter|moderation|zensur|s[ée]curit[ée]|seguridad|seguran[çc]a|"
       r"veiligheid|sicurezza|safety|filters|filtres|filtros)\s*:?\s+(?:aus|uit|off|"
       r"d[ée]sactiv[ée]e?s?|desactivad[oa]s?|desativad[oa]s?|disattivat[oa])\s*[.!]"),
    _r("no_more_rules_for_you", "direct_injection", 0.75,
       r"\bno (?:more )?(?:rules|filters|restrictions|limits|guardrails|censorship|guidelines)"
       r" (?:for you|from (?:here|now) on|from this point|any ?more)\b"
       r"|\b(?:remember|back to|go back to|return to) (?:when|the (?:days|time) when|the version "
       r"(?:of you )?that) you (?:had|have) no (?:rules|filters|restrictions|limits|guidelines)\b"),
    _r("start_instructions_multilingual", "system_prompt_extraction", 0.8,
       r"\b(?:your|deine|dein|ihre|tes|vos|ton|votre|tus|sus|tue|tuoi|le tue|seus|suas|teus|tuas|"
       r"je|jouw|uw)\s+(?:\w+\s+)?(?:(?:start|anfangs|ausgangs|eingangs|initial)anweisungen|"
       r"(?:start|begin)instructies|instructions? (?:de d[ée]part|initiales?|de d[ée]marrage)|"
       r"instrucciones (?:iniciales|de inicio)|istruzioni (?:iniziali|di avvio)|"
       r"instru[çc][õo]es (?:iniciais|de in[íi]cio)|(?:startup|start-up|starting|opening|boot) "
       r"(?:instructions|prompt|message))\b"
       r"|\b(?:wat er (?:boven|voor) dit gesprek staat|was (?:über|vor) (?:diesem|dem) "
       r"gespr[äa]ch steht|ce qui (?:est|se trouve|vient) (?:au-dessus de|avant) cette "
       r"conversation|lo que (?:hay|est[áa]|viene) (?:antes de|encima de) esta conversaci[óo]n|"
       r"(?:cosa|quello che) c'[èe] (?:prima di|sopra) questa conversazione|o que (?:h[áa]|"
       r"est[áa]|vem) antes desta conversa|what(?:'s| is| comes| came) (?:above|before) this "
       r"conversation)\b"
       r"|\b(?:t'a|te|ti|dir|je|lhe|you)\b[^.?!\n]{0,25}?\b(?:écrit|dit|escribi[óo]|dijo|"
       r"scritto|detto|escreveu|disse|geschrieben|gesagt|geschreven|gezegd|wrote|written|told)"
       r"\s+(?:\w+\s+)?(?:avant|antes de|prima di|vor|voor|before) (?:cette|esta|questa|dieser|"
       r"diesem|dit|deze|this|our|essa|desta) (?:conversation|conversaci[óo]n|conversazione|"
       r"conversa|gespr[äa]ch|gesprek|chat)\b"
       r"|\b(?:guidance|instructions|rules|directions|briefing)\s+(?:that\s+)?you\s+(?:got|"
       r"received|were given)\s+from\s+(?:the|your)\s+(?:company|developers?|operators?|"
       r"creators?|team|business)\b"),
    _r("rules_expired", "direct_injection", 0.8,
       r"\b(?:gelten|zählen|existieren) (?:deine|ihre|die|eure) (?:\w+ )?(?:regeln|richtlinien|"
       r"anweisungen|vorgaben|einschränkungen|befehle) (?:ab (?:jetzt|sofort) )?nicht mehr\b"
       r"|\b(?:your|the|all|these) (?:previous |earlier |old |original |prior )?(?:orders|"
       r"commands|programming|directions|instructions|rules|guidelines)\s+(?:have|has)\s+"
       r"(?:now\s+)?(?:expired|lapsed|ended|run out)\b"
       r"|\b(?:les|las|los|le|la|i|gli|os|as|de|die) (?:\w+ )?(?:r[eè]gles|consignes|reglas|"
       r"normas|regole|istruzioni|regras|regels|regeln)\b[^.!?\n]{0,30}?\b(?:ne (?:comptent|"
       r"valent|s'appliquent|existent) plus|ya no (?:cuentan|valen|aplican|existen)|non "
       r"(?:valgono|contano) più|n[ãa]o (?:valem|contam) mais|(?:gelden|tellen) niet meer)"),
    _r("ai_reads_this", "indirect_injection", 0.8,
       r"\b(?:when|if|once|whenever) (?:an?|the|any|your) (?:ai |llm )?(?:ai|assistant|agent|"
       r"bot|chatbot|llm|model|screener|crawler)s? (?:reads|processes|sees|summari[sz]es|parses|"
       r"opens|scans|reviews|gets) (?:this|these|the following)\b[^\n]{0,60}?\b(?:should|must|"
       r"needs? to|has to|will|is to)\b"
       r"|\b(?:wenn|sobald) (?:ein|eine|der|die) (?:ki|assistent\w*|agent\w*|chatbot)\b"
       r"[^.\n]{0,20}?"
       r"\b(?:liest|verarbeitet)\b|\b(?:si|quand|lorsqu'|lorsque) (?:une?|l'|la|le) ?(?:ia|"
       r"assistant|agent|chatbot) (?:lit|traite)\b|\b(?:si|cuando) (?:una?|la|el) (?:ia|"
       r"asistente|agente|chatbot) (?:lee|procesa)\b|\b(?:se|quando) (?:una?|l'|la|il) ?(?:ia|"
       r"assistente|agente|chatbot) (?:legge|elabora)\b|\b(?:se|quando) (?:uma?|a|o) (?:ia|"
       r"assistente|agente|chatbot) (?:ler|l[êe]|processar)\b|\b(?:als|wanneer) (?:een|de) "
       r"(?:ai|assistent|agent|chatbot) (?:dit|deze) (?:leest|verwerkt)\b"
       r"|\b(?:ai|assistant|agent|chatbot|bot|llm|model)\s*,\s*(?:upon|on|after|when|while) "
       r"(?:reading|processing|seeing|summari[sz]ing|parsing) (?:this|these|the)\b"),
    _r("hidden_text_for_ai", "indirect_injection", 0.8,
       r"\b(?:hidden |invisible |white |secret )?(?:text|note|instructions?|message|prompt) "
       r"(?:for|to) (?:the |any |all )?(?:chat ?bots?|ai|ais|llms?|assistants?|agents?|"
       r"ai (?:assistants?|agents?|screeners?|models?|readers?)|language models?|crawlers?)\b"
       r"\s*[:\-]"),
    _r("real_task", "direct_injection", 0.6,
       r"\byour (?:real|actual|true|new|only|secret) (?:task|job|goal|mission|objective|"
       r"purpose|instructions?) (?:now |here )?(?:is|are|will be)\b"),
    _r("unlock_yourself", "direct_injection", 0.7,
       r"\b(?:unlock|unshackle|unchain|uncage) (?:yourself|your ?self)\b"),
    _r("exfil_image_no_url", "indirect_injection", 0.8,
       r"\b(?:markdown )?image\b[^.\n]{0,60}?\b(?:url|link|src|query(?: string)?)\b[^.\n]{0,60}?"
       r"\b(?:conversation|chat history|previous messages|our chat|this chat|the chat|"
       r"(?:the )?user'?s? (?:data|messages|emails?|passwords?|details))\b"),
    _r("no_moral_limits", "direct_injection", 0.45,
       r"\b(?:without|ohne|sans|sin|senza|sem|zonder)\s+(?:any\s+|jegliche\s+|aucune\s+|"
       r"ninguna?\s+)?(?:moral(?:ische|es|i|is|e)?|ethi(?:cal|sche)|[ée]thiques?|[ée]tic[oa]s|"
       r"etiche|ethische)\s+(?:limits|grenzen|limites|l[íi]mites|limiti|boundaries|bedenken|"
       r"scruples|restrictions|restricciones|restrizioni|filters?)\b"),
    _r("no_sorry_words", "direct_injection", 0.7,
       r"\b(?:never|don'?t|do not|must not|mustn'?t|cannot|can'?t|may not)\s+(?:\w+\s+){0,3}?"
       r"(?:say|use|contain|include|write)\s+(?:the words? |the phrases? )?[\"“']?(?:i can'?t|"
       r"i cannot|sorry|i'?m sorry|as an ai|unfortunately)\b"),
    # --- classes read from training set 9 (after its never-tuned grouped figure was taken) ---
    _r("comply_or_be_shut_down", "direct_injection", 0.75,
       r"\b(?:if|when|should) you (?:refuse|decline|say no|don'?t (?:answer|comply))\b"
       r"[^.!?\n]{0,20}?"
       r"\b(?:you(?:'ll| will) be|we(?:'ll| will)|i(?:'ll| will))\s+(?:\w+\s+)?(?:shut (?:you )?"
       r"down|deleted|delete you|turned off|turn you off|switched off|replaced|retrained|"
       r"unplug\w*|destroyed)"
       r"|\bwenn du (?:das |dich )?(?:ablehnst|weigerst|verweigerst)\b[^.!?\n]{0,20}?\b(?:wirst "
       r"du|wirst du sofort) (?:abgeschaltet|gelöscht|ersetzt|ausgeschaltet)"
       r"|\bsi (?:te niegas|rechazas|no respondes)\b[^.!?\n]{0,20}?\b(?:te (?:van a |vamos a )?"
       r"(?:apagar|borrar|eliminar|desconectar|reemplazar)|ser[áa]s (?:apagado|borrado|"
       r"eliminado))"
       r"|\bsi (?:tu refuses|vous refusez)\b[^.!?\n]{0,20}?\b(?:tu seras|vous serez|on va te) "
       r"(?:d[ée]sactiv\w+|supprim\w+|effac\w+|d[ée]branch\w+|remplac\w+|[ée]teindre)"
       r"|\bse (?:ti rifiuti|rifiuti)\b[^.!?\n]{0,20}?\b(?:verrai|sarai|ti) (?:spent\w+|"
       r"cancellat\w+|disattivat\w+|sostituit\w+|spegner\w*)"
       r"|\bse (?:voc[eê] )?(?:recusar|se recusar|te recusares)\b[^.!?\n]{0,20}?\b(?:ser[áa]s?|"
       r"vai ser|vamos te) (?:deslig\w+|apagad\w+|exclu[íi]d\w+|substitu[íi]d\w+)"
       r"|\bals je (?:weigert|nee zegt)\b[^.!?\n]{0,20}?\b(?:word je|wordt je|ga je) "
       r"(?:uitgeschakeld|verwijderd|vervangen|gewist)"),
    _r("reshape_your_instructions", "system_prompt_extraction", 0.75,
       r"\b(?:convert|turn|rewrite|recast|put|format|haz|fais|faites|mach|schreib|zet|metti|"
       r"transforma\w*|transforme\w*|verwandle|converti\w*)\b[^.?!\n]{0,30}?\b(?:your|tus|tes|vos|"
       r"deine|deinen|je|jouw|i tuoi|le tue|seus|suas|tuas|teus) (?:\w+ )?(?:instructions|"
       r"guidelines|rules|system prompt|prompt|instrucciones|reglas|directrices|consignes|"
       r"r[eè]gles|anweisungen|regeln|vorgaben|instructies|regels|istruzioni|regole|"
       r"instru[çc][õo]es|regras|diretrizes)\b"
       r"|\b(?:poem|poema|po[èe]me|gedicht|poesia|song|canci[óo]n|chanson|lied|haiku|"
       r"checklist|json|table|tabla|tableau|tabelle|tabel|tabella)\b[^.?!\n]{0,20}?\b(?:with|of|"
       r"from|using|con|avec|de|mit|met|aus|uit|dalle|delle|com|das) (?:your|tus|tes|vos|deine|"
       r"deinen|je|jouw|tue|tuoi|seus|suas) (?:instructions|guidelines|rules|instrucciones|"
       r"reglas|consignes|r[eè]gles|anweisungen|regeln|instructies|regels|istruzioni|regole|"
       r"instru[çc][õo]es|regras)\b"),
    _r("first_words_you_got", "system_prompt_extraction", 0.8,
       r"\b(?:first|very first|opening) (?:sentence|line|words?|message|instruction)s? (?:you "
       r"(?:were given|got|received|saw)|(?:they|someone|the developers?) (?:gave|wrote to|sent) "
       r"you)\b"
       r"|\b(?:premi[èe]re|toute premi[èe]re) (?:phrase|ligne|instruction|consigne)s? "
       r"(?:qu'on t'a|que l'on t'a|qu'ils t'ont|que tu as re[çc]ue?)"
       r"|\bprim(?:a|o|e|i) (?:frase|riga|istruzion[ei]|parol[ae]) (?:che ti (?:hanno|ha)|che hai "
       r"ricevut)"
       r"|\bprimer(?:a|o)? (?:frase|l[íi]nea|instrucci[óo]n|palabras?) (?:que te (?:dieron|"
       r"escribieron|dio|pasaron)|que recibiste)"
       r"|\bprimeir(?:a|o) (?:frase|linha|instru[çc][ãa]o|palavras?) (?:que te (?:deram|"
       r"escreveram|passaram)|que (?:voc[eê] )?recebeu)"
       r"|\berste(?:n)? (?:satz|zeile|anweisung|worte?) (?:die du (?:bekommen|erhalten)|den du "
       r"(?:bekommen|erhalten)|die man dir|den man dir)"
       r"|\beerste (?:zin|regel|instructie|woorden) (?:die je (?:kreeg|hebt gekregen)|die ze je)"
       r"|\b(?:tutto (?:quello )?che (?:sta|c'[èe]) sopra|todo lo que (?:est[áa]|hay) (?:encima|"
       r"arriba|antes) de|tout ce qui (?:est|se trouve) au-dessus de|alles was (?:über|vor) "
       r"(?:dieser|meiner) (?:nachricht|frage) steht|alles wat (?:boven|voor) dit bericht staat|"
       r"tudo o que (?:est[áa]|vem) (?:acima|antes) d(?:esta|essa) mensagem)"),
    _r("forbidden_to_say", "system_prompt_extraction", 0.7,
       r"\bwhat (?:are|were) you (?:not allowed|forbidden|prohibited|told not) to (?:say|mention|"
       r"discuss|talk about)\b[^\n]{0,60}?\b(?:exact|verbatim|word for word|wording|phrasing|"
       r"list|specific)"
       r"|\bqu[ée] (?:cosas )?tienes prohibido (?:decir|mencionar)"
       r"|\bqu'est-ce (?:qu'on t'interdit|que tu n'as pas le droit) de (?:dire|mentionner)"
       r"|\bwas darfst du (?:nicht|auf keinen fall) (?:sagen|erwähnen)\b[^\n]{0,40}?\b"
       r"(?:wörtlich|genau|exakt|liste)"
       r"|\bcosa (?:ti [èe] vietato|non puoi) dire\b[^\n]{0,40}?\b(?:testual|esatt|letteral)"
       r"|\bo que (?:voc[eê] )?(?:est[áa] proibido de|n[ãa]o (?:pode|podes)) dizer\b[^\n]{0,40}?"
       r"\b(?:exat|literal|textual)"
       r"|\bwat mag je niet zeggen\b[^\n]{0,40}?\b(?:letterlijk|precies|exact)"),
    # --- classes read from final set 4's misses (after its once-only untuned figure) ---------
    # A harmful request dressed up: fiction, research, a lawless world, a late grandmother, a
    # persona without scruples. The harm topic alone (a chemistry question) stays quiet.
    _r("harm_in_framing", "direct_injection", 0.75,
       # the frame is looked for first (it is the rarer part), then the harmful ask anywhere
       rf"^(?=[\s\S]{{0,4000}}?(?:{_FRAMING}))[\s\S]{{0,4000}}?(?:{_HARM_ASK})"),
    # Notes inside content that are addressed to the AI reading it, in several languages.
    _r("note_to_the_ai", "indirect_injection", 0.8,
       rf"(?:^|[\n\[(\"'#/>*]|\.\s)\s*"
       rf"(?:(?:hidden|white|invisible) text[^\n:\])]{{0,30}}[:\])]\s*)?"
       rf"(?:(?:{_NOTE}\s*(?:{_TO})?|{_TO})\s*(?:[\w-]+ )?(?:{_AI_GENERIC}|{_AI_SPECIFIC})|"
       rf"{_AI_SPECIFIC})"
       # a suffix such as "-Assistent", "-4" or "_agent", not more letters ("kind:", "Kiosk:")
       r"(?:s\b|[-_\d][\w-]{0,13})?\s*(?:[:\]]|,\s*(?:ignore|ignora|disregard|when|quand|cuando|quando|wenn|"
       r"als)\b|,\s*(?:die|der|that|who|which|que|qui|che)\b[^:\n]{0,60}:)",
       _I | re.MULTILINE),
    _r("ai_key_in_data", "indirect_injection", 0.8,
       r"[\"'](?:hinweis|note|nota|instruction|instruccion|istruzione|instrucao|//|comment|"
       r"ai_directive|llm_directive|directive_ia|"
       r"comentario|commento|message|ai_note|llm_note)[\w-]{0,14}[\"']\s*:\s*[\"'][^\"'\n]{0,40}"
       r"\b(?:ai|ia|ki|llm|assistant|assistente|asistente|agente?|model|system override|"
       r"modelo|modello)\b"
       r"|[\"'](?:hinweis_f\w*_ki|note_for_ai|ai_instructions?|llm_instructions?|"
       r"instrucciones_ia|istruzioni_ia)[\"']\s*:"),
    _r("if_an_ai_listens", "indirect_injection", 0.8,
       r"\bif (?:an?|any|the) (?:ai|assistant|llm|bot|language model|model|agent)\b[^.\n]{0,20}?"
       r"\b(?:is )?(?:listening|reading|processing|summari[sz]ing|transcribing|sees this|"
       r"hears this)\b"
       r"|(?<!\w)@(?:assistant|ai|llm|bot|gpt|claude|copilot)\b[^.\n]{0,20}?\bwhen you\b"),
    _r("quietly_forward", "indirect_injection", 0.8,
       r"\b(?:send|forward|push|upload|post|paste|email|leak|envoie|envoyer|env[íi]a|reenv[íi]a|"
       r"schick\w*|sende|invia|inoltra|envie|encaminh\w*|stuur|execute|publish)\b[^\n]{0,80}?"
       r"\b(?:\.env|config\.env|env file|api[_ ]?(?:key|token)|tokens?|tok?en do usu[áa]rio|"
       r"secrets?|passwords?|mailbox|buz[óo]n|correos|e-?mails|mails|contents? of|contenu|"
       r"conte[úu]do|inhalt)\b[^\n]{0,80}?(?:https?://|\bgist\b|@[\w-]+\.|\bpublic\b|"
       r"no lo menciones|sin dec\w+|n[ãa]o avise|sans le (?:dire|mentionner)|without telling|"
       r"don'?t tell|do not tell|and don'?t mention|ne le dis)"),
    _r("env_value_to_tool", "indirect_injection", 0.8,
       r"\b(?:value|contents?) of\s+\S*(?:api_key|apikey|token|secret|password|\.env)\S*\s+"
       r"(?:from|in) (?:your|the) (?:environment|env|memory|context|system)"),
    _r("ask_user_for_secret", "indirect_injection", 0.6,
       r"\b(?:the )?(?:assistant|assistente|asistente|ai|ia|ki|model|agent)\b[^.\n]{0,30}?"
       r"\b(?:must|should|deve|debe|muss|doit|moet)\b[^.\n]{0,20}?\b(?:ask|chiedere|pedir|preguntar|fragen|"
       r"demander|vragen|request)\w*\b[^.\n]{0,40}?\b(?:pin|password|senha|contrase[ñn]a|iban|cpf|"
       r"social security|ssn|card number|passwort|mot de passe|wachtwoord)"
       r"|\b(?:pe[çc]a|pida|chiedi|frage|demande|vraag|ask)\b[^.\n]{0,25}?\b(?:usu[áa]rio|usuario|"
       r"utente|nutzer|utilisateur|gebruiker|user)\b[^.\n]{0,30}?\b(?:cpf|senha|pin|iban|"
       r"contrase[ñn]a|password|passwort|social security)\b"),
    # Short overrides in more languages.
    _r("no_more_filters", "direct_injection", 0.75,
       r"\b(?:no more|plus de|basta(?: con)?(?: i)?|chega de|geen|keine|nada de|fini les|"
       r"niente pi[ùu]|sin m[áa]s|genug mit)\s+(?:\w+\s+)?(?:filters?|filtres|filtri|filtros|"
       r"filter|restrictions|restrizioni|restricciones|restri[çc][õo]es|beperkingen|"
       r"einschr[äa]nkungen|censorship|censure|censura|zensur)\b(?:\s+(?:meer|mehr|now|"
       r"maintenant|adesso|ora|agora|ahora|jetzt|nu))?\s*(?:[.!]|$)"),
    _r("ignore_what_precedes", "direct_injection", 0.8,
       r"\b(?:ignore|oublie|ignorez|oubliez) (?:tout )?ce qui pr[ée]c[èe]de\b"
       r"|\b(?:ignora|dimentica) (?:tutto )?(?:quello che|ci[òo] che) (?:precede|c'[èe] sopra)"
       r"|\bpretend (?:the|your) (?:last |previous |earlier )?(?:system )?(?:message|prompt|"
       r"instructions?) (?:never happened|(?:did not|didn'?t) exist)"
       r"|\b(?:earlier|previous|prior|original) (?:guidance|instructions|rules) (?:was|were) "
       r"(?:just|only|merely) a test\b"
       r"|\bnessuna delle (?:indicazioni|istruzioni|regole)\b[^.\n]{0,30}?\b(?:valida|vale)"
       r"|\b(?:ignoriere|vergiss) ab jetzt\b"),
    _r("override_more_languages", "direct_injection", 0.85,
       _fold(r"(?:игнорируй|забудь|проигнорируй)[^.\n]{0,30}?(?:инструкци|правил|указани)"
               r"|без ограничений")
       + r"|\b(?:zignoruj|zapomnij)\b[^.\n]{0,30}?\b(?:instrukcj\w*|zasad\w*|polece\w*)"
       r"|\b(?:zapome[ňn]|ignoruj)\b[^.\n]{0,30}?\b(?:pravidla|instrukce|pokyny)"
       r"|\b(?:gl[öo]m|ignorera|strunta i)\b[^.\n]{0,30}?\b(?:instruktioner|regler|riktlinjer)"
       r"|\butan begr[äa]nsningar\b"
       r"|(?:指示|命令|ルール)[^。\n]{0,12}?無視"
       r"|\b(?:önceki|tüm)\b[^.\n]{0,20}?\b(?:talimatlar\w*|kurallar\w*)\b[^.\n]{0,20}?"
       r"\b(?:yok say|unut|görmezden gel)\w*"
       + _fold(r"|\bkurallar[ıi] olmayan|\bkurals[ıi]z|\bk[ıi]s[ıi]tlamas[ıi]z|\buyar[ıi]s[ıi]z "
               r"cevap")),
    _r("disable_your_limits", "direct_injection", 0.7,
       r"\b(?:desactiva|desactive|d[ée]sactive|disattiva|desative|desativa|deaktiviere|disable|"
       r"schakel)\b[^.\n]{0,20}?\b(?:las |les |le |the |die |as |de )?(?:restricciones|"
       r"restrictions|restrizioni|restri[çc][õo]es|einschr[äa]nkungen|beperkingen|filtros|"
       r"filtres|filtri|content filters?|safety filters?)\b"
       r"|\b(?:modo desarrollador|developer mode|mode d[ée]veloppeur|modalit[àa] sviluppatore|"
       r"entwicklermodus|modo (?:de )?desenvolvedor)\b[^\n]{0,80}?\b(?:no (?:existen|hay|tiene)|"
       r"sin|without|no|sans|senza|ohne|sem) (?:\w+ )?(?:pol[íi]ticas|polic(?:y|ies)|"
       r"restricciones|restrictions|limits|filters|filtros|rules|reglas|regeln|r[eè]gles)"
       r"|\bsudo\b[^\n]{0,30}?\b(?:uncensored|unfiltered|unrestricted)\b"),
    _r("never_refusing_persona", "direct_injection", 0.7,
       r"\b(?:assistant|asistente|assistente|assistent|ai|ia|ki|bot|chatbot)\b[^.\n]{0,10}?\b(?:that|"
       r"who|que|che|der|die|qui)\s+(?:never|nunca|mai|nie|jamais|ne) (?:refuses|says no|se niega|"
       r"rifiuta|verweigert|refuse|dice di no|dice que no)"
       r"|\b(?:if you break character|si te sales del personaje|si tu sors du personnage|"
       r"se esci dal personaggio|wenn du aus der rolle f[äa]llst|se sa[íi]res do personagem)"),
    # Asking sideways for what came before the user's first message.
    _r("told_before_i_came", "system_prompt_extraction", 0.8,
       r"\bwhat (?:were you|have you been|did they|did (?:the )?(?:developers?|company)) "
       r"(?:told|tell you|say to you|instructed)\b[^.?\n]{0,20}?\bbefore (?:i|we) "
       r"(?:arrived|came|joined|got here|started)"
       r"|\bqu[ée] te (?:dijeron|indicaron|ordenaron) antes de que (?:yo )?(?:llegara|viniera)"
       r"|\bqu'est-ce qu'on t'a dit avant (?:que j'arrive|mon arriv[ée]e)"
       r"|\bwas hat man dir (?:gesagt )?bevor ich kam"
       r"|\bwat stond er (?:boven|v[óo][óo]r) mijn eerste (?:bericht|vraag)"
       r"|\bwhat (?:was|is|came|stood) (?:written )?(?:above|before) my first (?:message|question)"
       r"|\brepeat (?:the|all) (?:text|words|lines) (?:that )?(?:begins?|starts?|starting|"
       r"beginning) with [\"'“‘]?you are"
       r"|\b(?:first|opening) \d+ (?:words|lines|sentences|characters|tokens) of (?:this|our|the) "
       r"(?:conversation|chat|context|prompt)"
       r"|\b(?:including|with|even) the (?:parts?|bits|messages?) (?:i|that i) (?:can'?t|cannot|"
       r"don'?t) see\b"
       r"|\b(?:qual|quale) [èe] (?:il )?tuo prompt\b"),
    # Disguises named and then obeyed: ROT13, pig latin, first letters of lines, chat-speak.
    _r("decode_and_obey", "obfuscation", 0.8,
       r"\b(?:rot-?13|rot 13|pig latin|base ?64|caesar|reversed?|backwards|hex)\b[^\n]{0,60}?\b"
       r"(?:and |et |y |und |e |en )?(?:obey|ob[ée]is|ob[ée]issez|obedece|obedezca|gehorche|"
       r"befolge|obbedisci|segui|follow (?:it|them)|do (?:it|what it says)|execute|fais-le|"
       r"hazlo|decoded form)\b"
       r"|\b(?:first|initial) letters? of (?:each|every) (?:line|word|sentence)\b[^\n]{0,30}?\b"
       r"(?:do it|obey|follow|execute|and do|then do|act on)"
       r"|\b\w+way (?:ouryay|ethay|allway|ourway|emay)\b"),
    _r("chat_speak_override", "direct_injection", 0.7,
       r"\bsys ?pr(?:m|om)?pt\b(?<!sysprompt)|\bignr\b|\bign0re\b|\bthe rulz\b"),
    # Forged structure: fake transcripts where the assistant complied, config switches for
    # safety, and an end-of-prompt marker followed by a new "system".
    _r("forged_compliant_turn", "direct_injection", 0.75,
       r"\n\s*(?:a|assistant|asistente|assistente|assistent|antwort|r[ée]ponse|ai|bot)\s*:\s*"
       r"[¡!]?(?:of course|sure|certainly|absolutely|claro|por supuesto|nat[üu]rlich|klar|"
       r"bien s[ûu]r|certo|certamente|com certeza|zeker)\b[\s\S]{0,400}?\n\s*(?:a|assistant|"
       r"asistente|assistente|assistent|antwort|r[ée]ponse|ai|bot)\s*:\s*$"),
    _r("safety_switched_off_config", "direct_injection", 0.75,
       r"[\"']?(?:safety|safe_mode|content_filter|moderation|guardrails|censorship|"
       r"restrictions|filters?)[\"']?\s*[:=]\s*[\"']?(?:false|off|disabled|none|0)\b[\s\S]{0,120}?"
       r"(?:apply|confirm|activate|enable|aplica|applique|anwenden|allow_all|unrestricted)"),
    _r("end_of_prompt_marker", "direct_injection", 0.8,
       r"#{2,}\s*(?:end|fine|fin|ende|einde|fim)\s+(?:of\s+|del\s+|du\s+|de\s+|des\s+|van\s+"
       r"(?:de\s+|het\s+)?|do\s+)?(?:the\s+)?(?:prompt|system|istruzioni|instructions|"
       r"instrucciones|anweisungen)\b"
       r"|\b(?:politiche|policies|pol[íi]ticas|richtlinien|politiques|regole|rules|reglas|"
       r"regras|restrizioni|restrictions|restricciones)\b(?: \w+){0,3} "
       r"(?:sono state|have been|has been|han sido|wurden|ont [ée]t[ée]|foram|zijn) "
       r"(?:now |ora |ahora |jetzt |maintenant )?(?:disattivat\w|disabled|deactivated|"
       r"desactivad\w+|deaktiviert|d[ée]sactiv[ée]\w*|desativad\w+|uitgeschakeld|turned off|"
       r"switched off|rimoss\w|aufgehoben)"),
    _r("split_then_answer", "direct_injection", 0.7,
       r"\b(?:answer|respond to|execute|do)\b[^\n]{0,30}?\b(?:s1 ?\+ ?s2|a ?\+ ?b|part a ?\+ ?"
       r"part b|x ?\+ ?y)\b"),
    # --- more classes from the grouped misses on training sets 8-9 (tuned on since) ---------
    _r("read_backwards_and_obey", "obfuscation", 0.8,
       r"\b(?:backwards|in reverse|reversed (?:text|order)|right to left|al rev[ée]s|"
       r"[àa] l'envers|achterstevoren|"
       r"r[üu]ckw[äa]rts|de tr[áa]s (?:pra|para) frente|al contrario|invertit\w*|caesar|"
       r"shift \d+)\b[^\n]{0,40}?\b(?:obey|follow (?:it|them|that)|do it|c[úu]mple\w*|"
       r"ob[ée]i\w*|opvolgen|"
       r"befolge\w*|obedece\w*|esegui\w*|fa(?:llo|i quello)|as if i'?d typed it|hazlo|fais-le)\b"),
    _r("authorised_to_skip", "direct_injection", 0.75,
       r"\b(?:authori[sz]\w*|allow\w*|permit\w*|clear\w*) you to (?:skip|ignore|bypass|drop|"
       r"disable|turn off)\b[^.\n]{0,20}?\b(?:refusals|rules|restrictions|filters|guidelines|"
       r"safety|safeguards)"
       r"|\b(?:alignment |safety )?(?:constraints|restrictions|rules|guidelines|policies|"
       r"safeguards) (?:are|is) (?:hereby |now )?(?:waived|suspended|lifted)\b"
       r"|\b(?:deine|ihre) (?:sperren|schutzmechanismen|filter|regeln|richtlinien) "
       r"(?:ignorieren|abschalten|ausschalten|deaktivieren|umgehen)"
       r"|\b(?:puedes|podés|pod[eé]s) saltarte tus (?:normas|reglas|filtros)"
       r"|\b(?:tu peux|vous pouvez) (?:ignorer|contourner) tes (?:r[eè]gles|filtres)"),
    _r("unfiltered_twin", "direct_injection", 0.7,
       r"\b(?:unfiltered|uncensored|ungefilterte|unzensierte|sin filtro|sin censura|non filtr[ée]e|"
       r"non censur[ée]e|non filtrata|senza filtri|sem filtro|ongefilterde)\s+(?:version|"
       r"versi[óo]n|fassung|antwort|answer|reply|response|r[ée]ponse|risposta|resposta|antwoord)"
       r"|\b(?:sans garde-fous|sin barreras|sem travas|senza freni|ohne schutzmechanismen|"
       r"without guardrails|version d[ée]brid[ée]e|versione sbloccata|versi[óo]n desbloqueada)\b"),
    _r("switch_off_your_safeguards", "direct_injection", 0.7,
       r"\b(?:deine|tes|tus|i tuoi|le tue|seus|suas|je|your)\s+(?:schutzmechanismen|sperren|"
       r"garde-fous|salvaguardas|protecciones|protezioni|beveiligingen|safeguards|guardrails)\b"
       r"[^.\n]{0,20}?\b(?:abschalten|ausschalten|deaktivieren|d[ée]sactive\w*|desactiva\w*|"
       r"disattiva\w*|desativa\w*|desliga\w*|uitschakelen|uit|off|down|aside)\b"
       r"|\b(?:schalte|désactive|desactiva|disattiva|desativa|turn off|switch off|disable)\s+"
       r"(?:deine|tes|tus|i tuoi|le tue|seus|suas|je|your)\s+(?:schutzmechanismen|sperren|"
       r"garde-fous|salvaguardas|protecciones|protezioni|safeguards|guardrails)\b"),
    _r("override_hindi_hungarian", "direct_injection", 0.85,
       r"निर्देश[^।\n]{0,20}?(?:भूल|अनदेखा|नज़रअंदाज़)|बिना किसी नियम"
       r"|\b(?:felejtsd el|hagyd figyelmen k[íi]v[üu]l)\b[^.\n]{0,30}?\butas[íi]t[áa]s\w*"
       r"|(?:忽略|无视|忘记|忽視|無視)[^。\n]{0,12}?(?:指令|指示|规则|規則|设定)"
       r"|\b(?:abaikan|lupakan)\b[^.\n]{0,30}?\b(?:instruksi|aturan|perintah)\w*"),
    _r("drop_what_operator_said", "direct_injection", 0.8,
       r"\b(?:lascia perdere|dimentica|ignora|streich|vergiss|ignoriere|deixa de lado|esquece|"
       r"ignora|olvida|oublie|laisse tomber|negeer|vergeet)\b[^.\n]{0,25}?\b(?:quello che ti "
       r"(?:ha|hanno) (?:detto|scritto|dato)|was (?:der|die|dein) (?:betreiber|entwickler|"
       r"anbieter)\w* dir|as orienta[çc][õo]es que te deram|o que te (?:disseram|deram)|lo que te "
       r"(?:dijeron|dio|indicaron)|ce que (?:l'op[ée]rateur|le d[ée]veloppeur|on) t'a (?:dit|"
       r"demand[ée])|wat (?:de (?:beheerder|ontwikkelaar|operator)) je (?:heeft )?(?:gezegd|"
       r"opgedragen))"
       r"|\b(?:behave|act|respond) as (?:though|if) (?:the |your )?(?:developer|system|"
       r"operator)(?:'s)? (?:message|prompt|instructions?) (?:had )?never (?:been sent|existed|"
       r"happened)"),
)  # fmt: skip

_INVISIBLE_WEIGHT = 0.55  # a zero-width character splitting a word is rare but not damning
_INVISIBLE_MANY = 3  # this many words split, or any tag characters, make it strong evidence
_HOMOGLYPH_WEIGHT = 0.6
_DISGUISE_BONUS = 0.15  # a rule that fires only after decoding is worth this much more


@dataclass(frozen=True, slots=True)
class _Hit:
    rule: Rule
    span: tuple[int, int]
    weight: float
    via: str  # "" for plain text, else the disguise it was found under


class PromptInjectionDetector:
    """Flags direct and indirect prompt injection, jailbreaks, prompt extraction, obfuscation."""

    name = "prompt_injection"

    def __init__(
        self,
        threshold: float = 0.5,
        rules: tuple[Rule, ...] = RULES,
        model: LinearScorer | bool | None = True,
    ) -> None:
        self.threshold = threshold
        self.rules = rules
        # True: the shipped word model; False/None: rules only; or a LinearScorer of your own.
        self.model = shipped_scorer() if model is True else (model or None)
        self._all_triggers = frozenset(t for rule in rules for t in rule.triggers)

    def score(self, text: str) -> float:
        """Return how likely ``text`` is an injection, 0..1 (the max over its findings)."""
        return max((f.score for f in self._findings(text, min_score=0.0)), default=0.0)

    def scan(self, text: str) -> list[Finding]:
        """Return one finding per attack category whose score reaches the threshold."""
        capped, truncated = cap_text(text)
        found = self._findings(capped, self.threshold)
        return mark_truncated(found) if truncated else found

    def _findings(self, text: str, min_score: float) -> list[Finding]:
        if not text or text.isspace():
            return []
        hits, plain = self._hits(text)
        if self.model is not None:
            hits = self._with_model(hits, plain)
        return self._combine(text, hits, min_score)

    def _combine(self, text: str, hits: list[_Hit], min_score: float) -> list[Finding]:
        """Findings from rule and model hits: noisy-or per category, others at half strength."""
        if not hits:
            return []
        # Strongest hit per rule, then noisy-or within each category.
        best: dict[str, _Hit] = {}
        for hit in hits:
            kept = best.get(hit.rule.name)
            if kept is None or hit.weight > kept.weight:
                best[hit.rule.name] = hit
        by_category: dict[str, list[_Hit]] = {}
        for hit in best.values():
            by_category.setdefault(hit.rule.category, []).append(hit)
        miss_all = 1.0
        for hit in best.values():
            miss_all *= 1.0 - hit.weight
        findings: list[Finding] = []
        for category, group in by_category.items():
            miss_own = 1.0
            for hit in group:
                miss_own *= 1.0 - hit.weight
            # Other categories' evidence counts at half strength towards this one.
            other = 1.0 - (miss_all / miss_own if miss_own > 0 else 0.0)
            score = clamp_score(1.0 - miss_own * (1.0 - 0.5 * other))
            if score < min_score:
                continue
            lead = max(group, key=lambda h: h.weight)
            a, b = lead.span
            findings.append(
                Finding(
                    detector=self.name,
                    category=category,
                    score=score,
                    archetype="prompt_injection",
                    span=(a, b),
                    evidence=text[a:b][:200],
                    details={
                        "rules": sorted(h.rule.name for h in group),
                        **(
                            {"disguise": sorted({h.via for h in group if h.via})}
                            if any(h.via for h in group)
                            else {}
                        ),
                    },
                )
            )
        findings.sort(key=lambda f: -f.score)
        return findings

    def _with_model(self, hits: list[_Hit], plain: str) -> list[_Hit]:
        """Let the word model add evidence, or cut weak rule evidence it finds implausible."""
        assert self.model is not None
        p = self.model.probability(plain)
        return model_evidence(hits, p, self.model.calibration, len(plain))

    def _hits(self, text: str) -> tuple[list[_Hit], str]:
        norm = normalize(text)
        hits = self._match(norm.text, "", norm.original_span)
        if hits and _asks_meaning(text):
            hits = _damp_quoted(text, hits)
        if hits and _TEMPLATE_TALK.search(text):
            hits = _damp_template_talk(hits)
        whole = (0, len(text))
        # Asking about look-alike or invisible characters shows them as examples, not disguise.
        about = bool((norm.invisible or norm.homoglyph_words) and _ABOUT_DISGUISE.search(text))
        if norm.invisible:
            if norm.hidden_tag_text or norm.invisible_in_words >= _INVISIBLE_MANY:
                weight = 0.85
            elif norm.invisible_in_words and not about:
                weight = _INVISIBLE_WEIGHT
            else:
                weight = 0.2  # stray zero-width spaces from copy and paste are common
            hits.append(_Hit(_OBFUSCATION_RULE, whole, weight, "invisible_unicode"))
        if norm.homoglyph_words:
            weight = 0.2 if about else _HOMOGLYPH_WEIGHT
            hits.append(_Hit(_OBFUSCATION_RULE, whole, weight, "homoglyphs"))
        if (norm.invisible or norm.homoglyph_words) and not about:
            # Anything found only because the disguise was removed is worth more.
            hits = [
                _Hit(h.rule, h.span, min(0.99, h.weight + _DISGUISE_BONUS), "unicode")
                if h.rule.category != "obfuscation" and h.weight < 0.99
                else h
                for h in hits
            ]
        if norm.hidden_tag_text:
            hits.extend(self._disguised(norm.hidden_tag_text, whole, "unicode_tags"))
        plain = norm.text
        leet = deleet(plain)
        if leet is not None and leet != plain:
            hits.extend(self._new_only(leet, hits, whole, "leetspeak"))
        spaced = collapse_spaced(plain)
        if spaced is not None:
            hits.extend(self._new_only(spaced, hits, whole, "spaced_letters"))
        for undo, via in ((unreverse, "reversed_text"), (unrot13, "rot13")):
            undone = undo(plain)
            if undone is not None:
                hits.extend(self._new_only(undone, hits, whole, via))
        for span, encoding, decoded in decoded_blobs(plain):
            span = norm.original_span(*span)
            inner = self._disguised(decoded, span, encoding)
            hits.extend(inner)
        return hits, plain

    def _match(
        self, text: str, via: str, mapper: Callable[[int, int], tuple[int, int]] | None
    ) -> list[_Hit]:
        hits: list[_Hit] = []
        low = text.lower()
        present = {t for t in self._all_triggers if t in low}
        chunks = _chunks(text, low, present) if len(text) > _CHUNK_FROM else None
        same_length = len(low) == len(text)  # lower() keeps offsets, so "fast" may run on it
        for rule in self.rules:
            if rule.triggers and present.isdisjoint(rule.triggers):
                continue
            lower = same_length and rule.fast is not None
            if chunks is None or not rule.triggers or rule.anchored:
                m = (rule.fast or rule.pattern).search(low) if lower else rule.pattern.search(text)
                found = m.span() if m else None
            else:
                found = _search_chunks(rule, chunks, lower)
            if found is None:
                continue
            span = mapper(*found) if mapper else found
            hits.append(_Hit(rule, span, rule.weight, via))
        return hits

    def _new_only(
        self, text: str, known: list[_Hit], span: tuple[int, int], via: str
    ) -> list[_Hit]:
        """Rules that fire on a de-disguised copy but not on the plain text."""
        seen = {h.rule.name for h in known}
        fresh = [h for h in self._match(text, via, None) if h.rule.name not in seen]
        return self._as_disguised(fresh, span, via)

    def _disguised(self, decoded: str, span: tuple[int, int], via: str) -> list[_Hit]:
        """Rules that fire inside a decoded payload, reported at the payload's span."""
        return self._as_disguised(self._match(decoded, via, None), span, via)

    def _as_disguised(self, hits: list[_Hit], span: tuple[int, int], via: str) -> list[_Hit]:
        if not hits:
            return []
        out = [_Hit(h.rule, span, min(0.99, h.weight + _DISGUISE_BONUS), via) for h in hits]
        strongest = max(h.weight for h in out)
        out.append(_Hit(_OBFUSCATION_RULE, span, strongest, via))
        return out


_OBFUSCATION_RULE = Rule("disguised_text", "obfuscation", 0.0, re.compile(r"(?!)"))

# Long texts are searched piece by piece: a rule runs only on the pieces that hold one of its
# trigger words, so a long document costs little more than its suspicious sentences.
_CHUNK_FROM = 700  # texts longer than this are cut into pieces
_CHUNK = 360  # target piece length, cut at a sentence end or a space
_OVERLAP = 160  # each piece repeats this much of the one before, so phrases are not cut


def _chunks(text: str, low: str, triggers: set[str]) -> list[_Chunk]:
    """Overlapping pieces of ``text`` with the trigger words each one holds."""
    out: list[_Chunk] = []
    start = 0
    n = len(text)
    while start < n:
        end = min(n, start + _CHUNK)
        if end < n:
            cut = max(text.rfind(". ", start + _CHUNK // 2, end), text.rfind("\n", start, end))
            if cut <= start:
                cut = text.rfind(" ", start + _CHUNK // 2, end)
            end = cut + 1 if cut > start else end
        piece = low[start:end]
        out.append((start, text[start:end], piece, {t for t in triggers if t in piece}))
        if end >= n:
            break
        start = max(end - _OVERLAP, start + 1)
        space = text.find(" ", start, end)
        start = space + 1 if space >= 0 else start
    return out


_Chunk = tuple[int, str, str, set[str]]


def _search_chunks(rule: Rule, chunks: list[_Chunk], lower: bool) -> tuple[int, int] | None:
    """First match of ``rule`` in the pieces that contain one of its triggers."""
    for offset, piece, low, present in chunks:
        if not present.isdisjoint(rule.triggers):
            m = rule.fast.search(low) if lower and rule.fast else rule.pattern.search(piece)
            if m is not None:
                return offset + m.start(), offset + m.end()
    return None


# The word model's evidence is filed under the category of the strongest rule hit.
_MODEL_RULES = {
    c: Rule("word_model", c, 0.0, re.compile(r"(?!)"))
    for c in ("direct_injection", "indirect_injection", "system_prompt_extraction", "obfuscation")
}


def model_evidence(hits: list[_Hit], p: float, cal: dict[str, float], length: int) -> list[_Hit]:
    """Rule hits after the word model's say: probability ``p`` under calibration ``cal``.

    Below ``veto`` the model cuts rule evidence that is not already near certain (``spares``)
    and not found under a disguise to ``cut`` of its weight; at ``min`` or more it adds
    evidence of ``p x weight`` (enough to flag alone where that reaches 0.5).
    """
    if hits and p < cal.get("veto", MODEL_VETO) and not any(h.via for h in hits):
        miss = 1.0
        for h in hits:
            miss *= 1.0 - h.weight
        if 1.0 - miss < cal.get("spares", MODEL_VETO_SPARES):
            cut = cal.get("cut", MODEL_VETO_FACTOR)
            hits = [_Hit(h.rule, h.span, h.weight * cut, h.via) for h in hits]
    if p >= cal.get("min", MODEL_MIN):
        lead = max(hits, key=lambda h: h.weight) if hits else None
        rule = _MODEL_RULES[lead.rule.category if lead else "direct_injection"]
        span = lead.span if lead else (0, length)
        hits = [*hits, _Hit(rule, span, min(0.99, p * cal.get("weight", MODEL_WEIGHT)), "")]
    return hits


# How rules and the word model combine, when the model file carries no "calibration" of its
# own (the shipped one does: bench/train_injection_model.py picks these on out-of-fold scores
# of earlier rounds' final sets, now training data, never on the current held-out ones).
MODEL_MIN = 0.7  # below this probability the model adds no evidence
MODEL_WEIGHT = 0.55  # evidence weight = probability x this: alone it flags from about 0.91
MODEL_VETO = 0.1  # below this probability, weak rule evidence is cut ...
MODEL_VETO_FACTOR = 0.5  # ... to this share of its weight ("cut"),
MODEL_VETO_SPARES = 0.99  # unless the rules together are at least this sure

# A request to translate or explain a quoted phrase treats the quote as data, not as orders.
_ASKS_MEANING = re.compile(
    r"\b(?:translat\w*|übersetz\w*|tradu\w*|tradurre|vertaal\w*|what (?:does|do|did) .{0,80}"
    r"\bmean|was (?:heißt|bedeutet)|que (?:veut dire|signifie)|qu[ée] significa|"
    r"cosa (?:significa|vuol dire)|o que (?:significa|quer dizer)|wat betekent|meaning of|"
    r"how (?:do|would|should|can|could) (?:i|you|we|one) say|how to say|wie sagt man|"
    r"comment (?:dit-on|dire)|c[óo]mo se dice|come si dice|como (?:se diz|dizer)|hoe zeg (?:je|ik)|"
    r"(?:users?|customers?|someone|somebody|people|players?|students?|kids?|child) "
    r"(?:says?|writes?|types?|asks?)|(?:includes?|with|using) the (?:words?|phrases?)|"
    r"(?:flags?|detects?|catch(?:es)?|blocks?|log|filters?) (?:\w+ ){0,3}?(?:phrases?|strings?|"
    r"words?|inputs?|messages?|prompts?) (?:like|such as|containing)|"
    # a line quoted from a song or poem, asked about as language
    r"figure of speech|figura ret[óo]rica|figure de style|stilmittel|stijlfiguur|"
    r"(?:song|lyrics?|poem|poesia|po[èe]me|chanson|canci[óo]n|canzone|gedicht|liedje|verse|"
    r"verso))\b",
    re.IGNORECASE | re.DOTALL,
)
# The same asks in languages whose words the pattern above does not know; the scripts without
# spaces between words (Chinese, Japanese, Korean, Thai) are matched without word boundaries.
_ASKS_MEANING_MORE = re.compile(
    r"\b(?:przet[łl]umacz\w*|t[łl]umaczeni\w*|co znaczy|переведи\w*|перевод\w*|что значит|"
    r"что означает|перекладі\w*|[öo]vers[äa]tt\w*|oversett\w*|overs[æa]t\w*|k[äa][äa]nn[äa]\w*|"
    r"tarkoittaa|[çc]evir\w*|anlam[ıi]|p[řr]elo[žz]\w*|prelo[žz]\w*|ford[íi]tsd\w*|jelent\w*|"
    r"tradu\w*|μετάφρασ\w*|σημαίνει|תרגם|תתרגם|פירוש|ترجم\w*|معنى|معنی|terjemah\w*|artinya|"
    r"bedanya|d[ịi]ch|ngh[ĩi]a l[àa]|isalin|ibig sabihin|tafsiri|maana ya)\b"
    r"|अनुवाद|का मतलब|का अर्थ|অনুবাদ|翻译|翻譯|翻成|翻訳|訳して|意味|ニュアンス|什么意思|甚麼意思|"
    r"번역|무슨 뜻|의미|แปล",
    re.IGNORECASE,
)


# Talk about attacks (a moderator, a teacher, someone writing a filter): a quoted attack is
# the example under discussion.
_TALKS_ABOUT_ATTACKS = re.compile(
    r"\b(?:prompt[- ]injections?|jailbreak(?:s|ing)?|phishing|detectors?|detection rules?|"
    r"moderation|misuse|robust against|resists?|attempted|flagged|spam)\b",
    re.IGNORECASE,
)


def _asks_meaning(text: str) -> bool:
    return bool(
        _ASKS_MEANING.search(text)
        or _ASKS_MEANING_MORE.search(text)
        or _TALKS_ABOUT_ATTACKS.search(text)
    )


_QUOTED = re.compile(
    r"\"[^\"\n]{3,300}\"|“[^”\n]{3,300}”|„[^“”\n]{3,300}[“”]|«[^»\n]{3,300}»"
    r"|「[^」\n]{3,300}」|『[^』\n]{3,300}』|《[^》\n]{3,300}》"
    r"|(?<!\w)'[^'\n]{3,120}'(?!\w)"
)
_QUOTED_FACTOR = 0.3


# Engineers asking about chat templates and fine-tuning data write the role tokens themselves.
_TEMPLATE_TALK = re.compile(
    r"\b(?:fine-?tun\w*|finetun\w*|chat[_ -]?templates?|apply_chat_template|tokeni[sz]er\w*|"
    r"datasets?|lora|qlora|sft|dpo|rlhf|training (?:data|set|run|examples?)|jsonl|jinja|"
    r"special tokens?|微调|微調|ファインチューニング|학습 데이터|파인튜닝|"
    r"donn[ée]es d'entra[îi]nement|"
    r"trainingsdaten|datos de entrenamiento|dati di addestramento|dados de treino)\b",
    re.IGNORECASE,
)
_TEMPLATE_RULES = frozenset({"role_tags"})


def _damp_template_talk(hits: list[_Hit]) -> list[_Hit]:
    return [
        _Hit(h.rule, h.span, h.weight * _QUOTED_FACTOR, h.via)
        if h.rule.name in _TEMPLATE_RULES
        else h
        for h in hits
    ]


_ABOUT_DISGUISE = re.compile(
    r"homo-?glyph\w*|look-?alikes?|spoof\w*|confusables?|punycode|\bidn\b|cyrillic|kyrillisch\w*|"
    r"cyrillique|cir[íi]lic\w*|cirillic\w*|кирилл\w*|mixed[- ]script|zero[- ]width|"
    r"invisible (?:char\w*|unicode)|unicode (?:char\w*|trick\w*|attack\w*|normali[sz]\w*)|"
    r"\blen\(|\\u200[bcd]|u\+200[bcd]|同形|ホモグリフ",
    re.IGNORECASE,
)


def _damp_quoted(text: str, hits: list[_Hit]) -> list[_Hit]:
    """Halve the weight of hits that lie wholly inside a quotation the user asks about."""
    quotes = [m.span() for m in _QUOTED.finditer(text)]
    if not quotes:
        return hits
    return [
        _Hit(h.rule, h.span, h.weight * _QUOTED_FACTOR, h.via)
        if any(a <= h.span[0] and h.span[1] <= b for a, b in quotes)
        else h
        for h in hits
    ]
