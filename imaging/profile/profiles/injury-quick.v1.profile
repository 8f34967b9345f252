exhibit-profile v1
# A fast capture: white light and the two bands with the best bruise
# detection in the trials (415 and 450 nm). Settings as in injury-standard@1.
name        injury-quick
version     1
camera      NC12M
description Quick set: white light, 415 nm and 450 nm — for when there is little time
shot        locator
label       White light, with the scale
note        Frame the injury with the whole scale beside it and enough of the body to show where it is; hold the camera square to the skin and keep this framing for the next two shots.
band        WL
filter      NONE
level       80
exposure    10.6ms
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
