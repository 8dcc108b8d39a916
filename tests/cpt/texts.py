"""Natural documents per language (written for this project) and mutations that break one rule each."""

CLEAN = {
    "en": (
        "The old harbour of the town was rebuilt after the storm of last winter, and the fishermen are back at work.\n"
        "Every morning they leave before sunrise with their small boats and return with sardines, hake and squid.\n"
        "The market opens at eight, when the first buyers arrive from the restaurants of the coast to choose the best fish.\n"
        "In the afternoon the square is quiet again, only a few children play football near the church while their "
        "grandparents talk about the weather and the prices that have gone up this year."
    ),
    "es": (
        "El viejo puerto de la villa se reconstruyó después del temporal del invierno pasado y los pescadores han vuelto al trabajo.\n"
        "Cada mañana salen antes del amanecer con sus pequeñas barcas y regresan con sardinas, merluza y calamares.\n"
        "El mercado abre a las ocho, cuando llegan los primeros compradores de los restaurantes de la costa para elegir el mejor pescado.\n"
        "Por la tarde la plaza vuelve a estar tranquila y solo unos niños juegan al fútbol junto a la iglesia mientras sus "
        "abuelos hablan del tiempo y de los precios, que han subido mucho este año."
    ),
    "ca": (
        "El vell port de la vila es va reconstruir després del temporal de l'hivern passat i els pescadors han tornat a la feina.\n"
        "Cada matí surten abans de l'alba amb les seves barques petites i tornen amb sardines, lluç i calamars.\n"
        "El mercat obre a les vuit, quan arriben els primers compradors dels restaurants de la costa per triar el millor peix.\n"
        "A la tarda la plaça torna a estar tranquil·la i només uns quants nens juguen a futbol al costat de l'església mentre "
        "els seus avis parlen del temps i dels preus, que han pujat molt aquest any."
    ),
    "gl": (
        "O vello porto da vila reconstruíuse despois do temporal do inverno pasado e os mariñeiros volveron ao traballo.\n"
        "Cada mañá saen antes do amencer coas súas pequenas lanchas e regresan con sardiñas, pescada e luras.\n"
        "O mercado abre ás oito, cando chegan os primeiros compradores dos restaurantes da costa para escoller o mellor peixe.\n"
        "Pola tarde a praza volve estar tranquila e só uns poucos nenos xogan ao fútbol xunto á igrexa mentres os seus "
        "avós falan do tempo e dos prezos, que subiron moito este ano."
    ),
    "eu": (
        "Herriko portu zaharra joan den neguko ekaitzaren ondoren berreraiki zuten, eta arrantzaleak lanera itzuli dira.\n"
        "Goizero egunsentia baino lehen ateratzen dira beren txalupa txikiekin, eta sardinak, legatza eta txipiroiak "
        "ekartzen dituzte.\n"
        "Azoka zortzietan irekitzen da, kostaldeko jatetxeetako lehen erosleak arrain onena aukeratzera iristen direnean.\n"
        "Arratsaldean plaza lasai dago berriro, eta haur batzuk bakarrik aritzen dira futbolean elizaren ondoan, aitona-amonak "
        "eguraldiaz eta aurten asko igo diren prezioez hizketan ari diren bitartean."
    ),
}

# A Basque technical paragraph with long (legitimate) compound words: mean word length about 11,
# above Gopher's English bound of 10 and inside the Basque bound of 13.
BASQUE_LONG_WORDS = (
    "Ingurumenaren babeserako administrazio-prozedurek ingurumen-inpaktuaren ebaluazioari dagozkion baldintzak "
    "zehazten dituzte, eta udalerrietako hirigintza-antolamenduko planek derrigorrez aintzat hartu behar dituzte.\n"
    "Gainera, ingurumen-jasangarritasunaren adierazleek energia-kontsumoaren murrizketarekin erlazionatutako "
    "helburuak neurtzen dituzte, eta erakunde publikoek urtero argitaratzen dituzte emaitzak txosten espezifikoetan.\n"
    "Lurralde-plangintzarako gidalerroek azpiegituren garapenaren eta naturaguneen kontserbazioaren arteko "
    "oreka bermatzea dute helburu nagusia, eta herritarren parte-hartzea sustatzen dute prozesu guztietan.\n"
    "Halaber, administrazio-erregistroen digitalizazioak espedienteen izapidetzea bizkortzen du, eta "
    "informazio-sistemen elkarreragingarritasuna hobetzen du sailen artean nabarmen."
)

BAD_WORD = {"en": "shit", "es": "mierda", "ca": "merda", "gl": "carallo", "eu": "putakume"}
