/* ics_check.c — parses an iCalendar file with libical (an independent RFC 5545 parser) and checks what
 * Staffroom promises about a session's calendar: METHOD, one VEVENT with UID, DTSTAMP, DTSTART and
 * DTEND in UTC, SUMMARY, DESCRIPTION and SEQUENCE. Prints the fields as NAME=value lines (for the
 * node test to compare) and exits 0, or prints what is wrong and exits 1.
 *
 *   ics_check FILE
 */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void fail(const char *what)
{
    printf("FAIL %s\n", what);
    failures++;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (buf)
        n = fread(buf, 1, cap, f);
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static void check_utc(icalcomponent *ev, icalproperty_kind kind, const char *name)
{
    icalproperty *p = icalcomponent_get_first_property(ev, kind);
    if (!p) {
        fail(name);
        return;
    }
    struct icaltimetype t = kind == ICAL_DTSTAMP_PROPERTY  ? icalproperty_get_dtstamp(p)
                            : kind == ICAL_DTSTART_PROPERTY ? icalproperty_get_dtstart(p)
                                                            : icalproperty_get_dtend(p);
    if (icaltime_is_null_time(t) || !icaltime_is_utc(t))
        fail(name);
    else
        printf("%s=%lld\n", name, (long long)icaltime_as_timet(t));
}

static void check_text(icalcomponent *ev, icalproperty_kind kind, const char *name)
{
    icalproperty *p = icalcomponent_get_first_property(ev, kind);
    const char *v = p ? icalproperty_get_value_as_string(p) : NULL;
    if (!v || !*v) {
        fail(name);
        return;
    }
    /* the decoded value, on one line: newlines shown as \n */
    printf("%s=", name);
    const char *text = kind == ICAL_SUMMARY_PROPERTY ? icalproperty_get_summary(p)
                       : kind == ICAL_DESCRIPTION_PROPERTY ? icalproperty_get_description(p)
                       : kind == ICAL_UID_PROPERTY ? icalproperty_get_uid(p) : v;
    for (const char *c = text; *c; c++)
        fputs(*c == '\n' ? "\\n" : (char[2]){*c, 0}, stdout);
    putchar('\n');
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ics_check FILE\n");
        return 2;
    }
    char *text = slurp(argv[1]);
    if (!text) {
        perror(argv[1]);
        return 2;
    }
    if (!strstr(text, "\r\n") || strstr(text, "\n\n"))
        fail("CRLF line ends");
    icalcomponent *cal = icalparser_parse_string(text);
    free(text);
    if (!cal || icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT) {
        fail("VCALENDAR");
        return 1;
    }
    if (icalcomponent_count_errors(cal) > 0)
        fail("libical reports errors");
    icalproperty *m = icalcomponent_get_first_property(cal, ICAL_METHOD_PROPERTY);
    if (!m)
        fail("METHOD");
    else
        printf("METHOD=%s\n", icalproperty_method_to_string(icalproperty_get_method(m)));
    icalproperty *v = icalcomponent_get_first_property(cal, ICAL_VERSION_PROPERTY);
    if (!v || strcmp(icalproperty_get_version(v), "2.0") != 0)
        fail("VERSION");
    if (!icalcomponent_get_first_property(cal, ICAL_PRODID_PROPERTY))
        fail("PRODID");
    icalcomponent *ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
    if (!ev || icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
        fail("exactly one VEVENT");
    } else {
        check_text(ev, ICAL_UID_PROPERTY, "UID");
        check_utc(ev, ICAL_DTSTAMP_PROPERTY, "DTSTAMP");
        check_utc(ev, ICAL_DTSTART_PROPERTY, "DTSTART");
        check_utc(ev, ICAL_DTEND_PROPERTY, "DTEND");
        check_text(ev, ICAL_SUMMARY_PROPERTY, "SUMMARY");
        check_text(ev, ICAL_DESCRIPTION_PROPERTY, "DESCRIPTION");
        icalproperty *seq = icalcomponent_get_first_property(ev, ICAL_SEQUENCE_PROPERTY);
        if (!seq)
            fail("SEQUENCE");
        else
            printf("SEQUENCE=%d\n", icalproperty_get_sequence(seq));
        icalproperty *st = icalcomponent_get_first_property(ev, ICAL_STATUS_PROPERTY);
        if (st)
            printf("STATUS=%s\n", icalproperty_status_to_string(icalproperty_get_status(st)));
    }
    icalcomponent_free(cal);
    return failures ? 1 : 0;
}
