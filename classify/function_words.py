"""A first, cheap pass of language detection: counting each language's function words.

Articles, pronouns, prepositions, auxiliaries and the greetings and sign-offs of a support
message are most of the words of any sentence, and they differ between languages. Counting
them in a ticket's first characters decides the clear cases in a few microseconds; the
statistical detector (lingua) is asked only when the count is low or the margin narrow
(:class:`classify.language.LanguageDetection` decides which).

The lists are written by hand from the languages' grammar, lower case, accents kept (they are
evidence: "é" is Portuguese "is", "e" is "and"). A word frequent in two of the languages (fr/es/
pt/it "de", "que", "la", "en", "se", "no") is left out: it says little. Some overlap stays (es/pt
"para", "como") and then counts for both. French and Italian elisions ("j'ai", "l'ordine",
"dell'ordine") are split at the apostrophe, so their stems ("j", "qu", "dell") are listed too.
"""

from __future__ import annotations

FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("""
        the and to of is are was were be been being am i you we he she they it its my your our
        their this that these those with for have has had not no do does did can could would
        will should shall may might must please hello hi dear thank thanks regards from on at an
        there here what which when where who why how but or if any some about after before into
        than then them us me just also only been since still because while would your yours
        kind best sincerely team hey
        """.split()),
    "fr": frozenset("""
        le les des du un une et est je vous nous il elle ils elles mon ma mes ton ta tes votre
        vos notre son sa ses leur leurs pour dans sur avec pas ne qui au aux ce cet cette ces sont
        ai avez avons ont été être très plus mais où donc car depuis aussi encore bonjour bonsoir
        merci madame monsieur cordialement salutations veuillez pouvez pourriez voudrais souhaite
        j qu c n d l s m t jusqu lorsqu puisqu déjà chez toujours sans sous entre après avant
        même rien quand comment pourquoi ça celui cela ceci y été fait faire suis êtes
        """.split()),
    "de": frozenset("""
        der die das und ist ich sie wir nicht mit für auf ein eine einen einem einer eines dem
        den des zu von bei sich es auch wird werden wurde wurden haben hat hatte bitte sehr
        geehrte geehrter geehrtes hallo danke vielen dank unser unsere unserer unseren ihr ihre
        ihren ihrem mein meine meinen meinem wie kann können könnten oder aber wenn dass im nach
        über grüße grüßen freundlichen mfg dies diese dieser dieses diesem diesen sind bin wäre
        würde würden möchte möchten uns mir mich noch schon nur immer jetzt seit zum zur vom
        beim kein keine keinen liebe lieber herr frau damen herren gerne
        """.split()),
    "es": frozenset("""
        el los las del y una por para con mi mis su sus nuestro nuestra nuestros nuestras está
        están estoy estamos hola gracias saludos estimado estimada estimados pero cuando muy
        también al lo hay han sido esta este estos estas esto puede pueden podría podrían qué
        cómo usted ustedes ya desde sin sobre entre hemos tengo tiene tienen ser fue son
        atentamente buenos buenas días quisiera necesito le les me nos mí cual cuál donde dónde
        porque aún todavía muchas muchos todo todos
        """.split()),
    "pt": frozenset("""
        o os as do da dos das na nas em um uma e é com não para meu minha meus minhas seu sua
        seus suas nosso nossa nossos nossas estão estou estamos olá obrigado obrigada prezado
        prezada prezados atenciosamente você vocês mas ao aos pelo pela pelos pelas foi tem têm
        isso isto este esta também muito muita muitos há já ser são pode podem poderia eu nós
        ele ela eles elas bom boa dia gostaria preciso sem sobre desde num numa ainda
        """.split()),
    "it": frozenset("""
        il lo gli di del della dello dei degli delle che e è per non sono mio mia miei mie suo
        sua suoi sue nostro nostra nostri nostre ciao grazie salve gentile gentili cordiali
        saluti anche ma sul sulla nel nella nei nelle questo questa questi queste ho hai ha
        abbiamo avete hanno siamo siete stato stata essere molto alla alle allo dal dalla dai
        più perché buongiorno buonasera vorrei posso può potrei potete dell nell all sull dall
        un una ad ed cosa qualche ancora già sempre mi ci vi
        """.split()),
    "nl": frozenset("""
        het een van ik jij wij mijn uw ons onze niet met voor op te dat die zijn heb hebben heeft
        had wordt worden werd naar bij ook maar als om graag bedankt dank hallo beste geachte
        groet groeten vriendelijke er nog dit deze wat hoe aan u jullie wil kunt kunnen zou zouden
        mij mijnheer mevrouw alvast hoi alstublieft alsjeblieft wel geen zo al nu
        """.split()),
}
