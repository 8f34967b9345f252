exhibit-profile v1
# Injury documentation under alternate light (issue 10). Exposures and gains
# measured against the simulated rig (devices/rigsim, camsim's NC12M sensor):
# see docs/profiles.md, "Exposures", and TestExposure.
name        injury-standard
version     1
camera      NC12M
description Full set for bruises and other injuries: locator, cross-polarised white, 415, 450 and 850 nm, optional 365 nm

shot        locator
label       Locator: white light, wide view
note        Step back so the picture shows the body part and the scale beside the injury, so that anyone can tell where on the body it is.
band        WL
filter      NONE
level       80
exposure    10.6ms
gain        1
optional    no
interlock   no
reference   no

shot        white-xpol
label       Close-up in cross-polarised white light
note        Move in so the injury and the whole scale fill the frame; hold the camera square to the skin. Keep this framing for every shot that follows.
band        XPW
filter      NONE
level       80
exposure    44ms
gain        1
optional    no
interlock   no
reference   yes

shot        415-yellow
label       Violet light (415 nm) through the yellow filter
note        This light is switched on only with the enclosure closed. Hold still for a moment.
band        415
filter      YEL
level       80
exposure    64ms
gain        4
optional    no
interlock   yes
reference   no

shot        450-orange
label       Blue light (450 nm) through the orange filter
note        Hold still: this picture takes about a sixth of a second.
band        450
filter      ORG
level       80
exposure    153ms
gain        8
optional    no
interlock   no
reference   no

shot        850-irpass
label       Near-infrared light (850 nm) through the infrared filter
band        850
filter      IRP
level       80
exposure    17ms
gain        1
optional    no
interlock   no
reference   no

shot        365-yellow
label       Ultraviolet light (365 nm) through the yellow filter
note        This light is switched on only with the enclosure closed. Hold still: this picture takes about a seventh of a second.
band        365
filter      YEL
level       80
exposure    138ms
gain        4
optional    yes
interlock   yes
reference   no
